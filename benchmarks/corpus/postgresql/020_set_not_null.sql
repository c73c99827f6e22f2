-- expect: backward_incompatible, lock_risk
ALTER TABLE users ALTER COLUMN phone SET NOT NULL;
