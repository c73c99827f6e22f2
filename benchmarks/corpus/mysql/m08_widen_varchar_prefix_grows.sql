-- expect: lock_risk
-- 50 -> 100 utf8mb4 characters crosses 255 bytes: the length prefix grows, so the table is copied.
ALTER TABLE users MODIFY COLUMN full_name VARCHAR(100) NULL;
