-- expect: destructive
ALTER TABLE users
    ADD COLUMN locale text DEFAULT 'en',
    DROP COLUMN login;
