-- expect: lock_risk
DROP INDEX orders_status_idx;
