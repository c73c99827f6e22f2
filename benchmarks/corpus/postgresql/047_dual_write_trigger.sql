-- expect: safe
-- Expand step of renaming login -> username: keep both columns in sync.
ALTER TABLE users ADD COLUMN username text;

CREATE OR REPLACE FUNCTION users_sync_username() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.username IS NULL THEN
        NEW.username := NEW.login;
    ELSE
        NEW.login := NEW.username;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_sync_username
    BEFORE INSERT OR UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_sync_username();
