-- expect: lock_risk
BEGIN;
CREATE TABLE order_totals (order_id bigint PRIMARY KEY, total numeric(12,2));
ALTER TABLE orders ADD COLUMN totals_migrated boolean;
INSERT INTO order_totals (order_id, total) SELECT id, total FROM orders;
COMMIT;
