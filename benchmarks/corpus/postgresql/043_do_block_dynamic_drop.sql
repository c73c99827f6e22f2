-- expect: destructive
-- Clean up the import staging tables.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables WHERE tablename LIKE 'tmp_import_%' LOOP
        EXECUTE format('DROP TABLE %I', r.tablename);
    END LOOP;
END $$;
