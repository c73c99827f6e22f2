-- expect: backward_incompatible, lock_risk
ALTER TABLE users ALTER COLUMN email TYPE varchar(100);
