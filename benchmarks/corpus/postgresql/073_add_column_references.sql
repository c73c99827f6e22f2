-- expect: lock_risk
ALTER TABLE order_items ADD COLUMN product_id int REFERENCES products (id);
