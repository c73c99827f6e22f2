-- expect: lock_risk
ALTER TABLE users ALTER COLUMN settings TYPE jsonb USING settings::jsonb;
