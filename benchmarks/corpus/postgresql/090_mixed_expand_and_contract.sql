-- expect: destructive, lock_risk
-- Someone put the whole refactoring in one file.
BEGIN;
ALTER TABLE orders ADD COLUMN state order_status;
UPDATE orders SET state = status::order_status;
ALTER TABLE orders DROP COLUMN status;
COMMIT;
