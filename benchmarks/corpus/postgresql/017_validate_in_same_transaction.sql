-- expect: lock_risk
BEGIN;
ALTER TABLE orders
    ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
-- the scan below still holds the SHARE ROW EXCLUSIVE lock taken above
ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey;
COMMIT;
