-- expect: lock_risk
ALTER TABLE order_items
    ADD COLUMN line_total numeric GENERATED ALWAYS AS (qty * price) STORED;
