-- expect: lock_risk
BEGIN;
LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;
UPDATE orders SET currency = 'EUR' WHERE currency = 'eur';
COMMIT;
