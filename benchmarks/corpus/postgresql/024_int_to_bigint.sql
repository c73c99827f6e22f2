-- expect: lock_risk
-- age will not overflow, but this rewrites users and its indexes.
ALTER TABLE users ALTER COLUMN age TYPE bigint;
