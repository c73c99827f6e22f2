-- expect: safe
CREATE INDEX idx_orders_created ON orders (created_at);
