-- expect: lock_risk
REFRESH MATERIALIZED VIEW daily_revenue;
