-- expect: lock_risk
REINDEX INDEX orders_status_idx;
