-- expect: lock_risk
ALTER TABLE orders ADD CONSTRAINT chk_orders_total CHECK (total >= 0);
