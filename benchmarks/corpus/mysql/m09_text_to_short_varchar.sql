-- expect: backward_incompatible, lock_risk
ALTER TABLE orders MODIFY COLUMN note VARCHAR(50) NULL;
