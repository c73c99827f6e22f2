-- expect: lock_risk
ALTER TABLE sessions SET UNLOGGED;
