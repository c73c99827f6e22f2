-- expect: backward_incompatible
DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_name = 'users' AND column_name = 'login') THEN
        ALTER TABLE users RENAME COLUMN login TO username;
    END IF;
END
$migration$ LANGUAGE plpgsql;
