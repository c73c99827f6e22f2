-- expect: lock_risk
-- pg-version: 10
-- Same change, but production still runs PostgreSQL 10: every row is rewritten.
ALTER TABLE users ADD COLUMN is_verified boolean NOT NULL DEFAULT false;
