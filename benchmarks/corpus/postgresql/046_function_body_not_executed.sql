-- expect: safe
-- The body runs when a cron job calls it, not during this migration.
CREATE OR REPLACE FUNCTION purge_sessions() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sessions;
    TRUNCATE page_views;
END;
$$;
