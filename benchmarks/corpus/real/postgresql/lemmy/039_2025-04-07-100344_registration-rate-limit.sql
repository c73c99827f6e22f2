-- source: LemmyNet/lemmy@439734dd638a migrations/2025-04-07-100344_registration-rate-limit/up.sql
-- expect: lock_risk
-- reason: UPDATE in the same transaction as the ALTER that holds ACCESS EXCLUSIVE
ALTER TABLE local_site_rate_limit
    ALTER register SET DEFAULT 10;

UPDATE
    local_site_rate_limit
SET
    register = 10
WHERE
    register = 3;
