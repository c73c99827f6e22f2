-- source: LemmyNet/lemmy@439734dd638a migrations/2025-08-01-000068_local_user_trigger/up.sql
-- expect: lock_risk
-- reason: UPDATE without WHERE rewrites every row in one statement
UPDATE
    local_site
SET
    users = (
        SELECT
            count(*)
        FROM
            local_user
        WHERE
            accepted_application);
