-- expect: safe
ALTER INDEX orders_status_idx RENAME TO orders_state_idx;
ALTER TABLE orders RENAME CONSTRAINT orders_total_check TO orders_total_non_negative;
