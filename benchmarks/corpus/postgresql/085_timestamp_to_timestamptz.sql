-- expect: lock_risk
ALTER TABLE users ALTER COLUMN last_seen_at TYPE timestamptz;
