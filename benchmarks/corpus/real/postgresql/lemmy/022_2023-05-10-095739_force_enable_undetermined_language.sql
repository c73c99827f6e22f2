-- source: LemmyNet/lemmy@439734dd638a migrations/2023-05-10-095739_force_enable_undetermined_language/up.sql
-- expect: safe
-- reason: INSERT ... SELECT ON CONFLICT DO NOTHING, no DDL lock held
-- force enable undetermined language for all users
INSERT INTO local_user_language (local_user_id, language_id)
SELECT
    id,
    0
FROM
    local_user
ON CONFLICT (local_user_id,
    language_id)
    DO NOTHING;
