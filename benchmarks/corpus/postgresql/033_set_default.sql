-- expect: safe
ALTER TABLE orders ALTER COLUMN currency SET DEFAULT 'USD';
