-- expect: backward_incompatible, lock_risk
ALTER TABLE orders ALTER COLUMN status TYPE integer USING status::integer;
