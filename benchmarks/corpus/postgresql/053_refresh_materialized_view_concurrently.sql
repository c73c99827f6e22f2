-- expect: safe
REFRESH MATERIALIZED VIEW CONCURRENTLY daily_revenue;
