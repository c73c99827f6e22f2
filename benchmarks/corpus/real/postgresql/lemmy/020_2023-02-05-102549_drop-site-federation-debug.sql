-- source: LemmyNet/lemmy@439734dd638a migrations/2023-02-05-102549_drop-site-federation-debug/up.sql
-- expect: destructive
-- reason: DROP COLUMN federation_debug
ALTER TABLE local_site
    DROP COLUMN federation_debug;
