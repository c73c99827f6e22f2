-- expect: lock_risk
-- Widening, but MySQL copies the table (ALGORITHM=COPY) and blocks writes meanwhile.
ALTER TABLE users MODIFY COLUMN age BIGINT NULL;
