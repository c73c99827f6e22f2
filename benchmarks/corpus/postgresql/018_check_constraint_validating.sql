-- expect: lock_risk
ALTER TABLE order_items ADD CONSTRAINT order_items_qty_positive CHECK (qty > 0);
