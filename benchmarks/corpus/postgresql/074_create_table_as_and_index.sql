-- expect: safe
CREATE TABLE orders_archive AS
    SELECT * FROM orders WHERE created_at < '2023-01-01';
CREATE INDEX orders_archive_user_id_idx ON orders_archive (user_id);
