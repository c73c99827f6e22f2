-- expect: lock_risk
CLUSTER orders USING orders_pkey;
