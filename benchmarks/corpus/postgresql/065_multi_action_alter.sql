-- expect: safe
ALTER TABLE orders
    ADD COLUMN shipped_at timestamptz,
    ADD COLUMN carrier text,
    ALTER COLUMN currency SET DEFAULT 'EUR';
