-- expect: lock_risk
VACUUM (FULL, ANALYZE) orders;
