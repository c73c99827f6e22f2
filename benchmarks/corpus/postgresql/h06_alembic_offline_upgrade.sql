-- expect: safe
-- holdout: labelled before turnout ran on it
BEGIN;

-- Running upgrade 1a2b3c4d5e6f -> 9f8e7d6c5b4a

ALTER TABLE orders ADD COLUMN discount_cents INTEGER;

UPDATE alembic_version SET version_num='9f8e7d6c5b4a' WHERE alembic_version.version_num = '1a2b3c4d5e6f';

COMMIT;
