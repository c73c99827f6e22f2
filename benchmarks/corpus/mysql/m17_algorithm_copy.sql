-- expect: lock_risk
ALTER TABLE orders ADD COLUMN shipped_at DATETIME NULL, ALGORITHM=COPY;
