-- expect: backward_incompatible, lock_risk
ALTER TABLE orders ADD COLUMN region text;
ALTER TABLE orders ALTER COLUMN region SET NOT NULL;
