-- expect: lock_risk
-- The CHECK is verified against every existing row under ACCESS EXCLUSIVE.
ALTER TABLE orders ADD COLUMN priority int CHECK (priority BETWEEN 1 AND 5);
