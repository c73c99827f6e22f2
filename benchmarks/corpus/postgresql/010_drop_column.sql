-- expect: destructive
-- legacy_id was used by the v1 importer.
ALTER TABLE users DROP COLUMN legacy_id;
