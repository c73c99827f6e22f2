-- expect: safe
-- PostgreSQL 11+ stores the default in the catalog: no rewrite.
ALTER TABLE users ADD COLUMN is_verified boolean NOT NULL DEFAULT false;
