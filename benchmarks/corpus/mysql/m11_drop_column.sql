-- expect: destructive
ALTER TABLE users DROP COLUMN legacy_id;
