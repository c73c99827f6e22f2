-- expect: lock_risk
-- Fails: CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
BEGIN;
CREATE INDEX CONCURRENTLY orders_user_id_idx ON orders (user_id);
COMMIT;
