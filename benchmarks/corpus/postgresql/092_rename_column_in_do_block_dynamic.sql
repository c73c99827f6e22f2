-- expect: backward_incompatible
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['orders', 'order_items'] LOOP
        EXECUTE 'ALTER TABLE ' || quote_ident(t) || ' RENAME COLUMN created_at TO inserted_at';
    END LOOP;
END $$;
