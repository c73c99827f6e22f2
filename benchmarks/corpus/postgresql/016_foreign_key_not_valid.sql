-- expect: safe
-- Step 1 of 2: new rows are checked at once; existing rows are validated in 017.
ALTER TABLE orders
    ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
