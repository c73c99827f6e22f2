-- expect: lock_risk
-- pg-version: 11
-- As 021, but PostgreSQL 11 cannot use the CHECK: full scan under ACCESS EXCLUSIVE.
ALTER TABLE orders ALTER COLUMN note SET NOT NULL;
ALTER TABLE orders DROP CONSTRAINT orders_note_not_null;
