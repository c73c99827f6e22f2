-- expect: safe
REINDEX INDEX CONCURRENTLY orders_status_idx;
