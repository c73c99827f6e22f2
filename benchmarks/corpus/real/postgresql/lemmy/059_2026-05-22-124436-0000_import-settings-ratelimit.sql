-- source: LemmyNet/lemmy@439734dd638a migrations/2026-05-22-124436-0000_import-settings-ratelimit/up.sql
-- expect: lock_risk
-- reason: UPDATE in the same transaction as the ALTER that holds ACCESS EXCLUSIVE
ALTER TABLE local_site_rate_limit
    ALTER COLUMN import_user_settings_max_requests SET DEFAULT 3;

UPDATE
    local_site_rate_limit
SET
    import_user_settings_max_requests = 3
WHERE
    import_user_settings_max_requests = 1;
