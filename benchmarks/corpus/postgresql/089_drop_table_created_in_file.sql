-- expect: safe
-- Scratch table for a one-off data fix, created and dropped in the same migration.
CREATE TEMP TABLE fix_ids AS SELECT id FROM orders WHERE status = 'stuck';
CREATE TABLE order_fix_log (order_id bigint, fixed_at timestamptz DEFAULT now());
INSERT INTO order_fix_log (order_id) SELECT id FROM fix_ids;
DROP TABLE order_fix_log;
