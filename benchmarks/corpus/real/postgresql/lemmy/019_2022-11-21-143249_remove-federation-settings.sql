-- source: LemmyNet/lemmy@439734dd638a migrations/2022-11-21-143249_remove-federation-settings/up.sql
-- expect: destructive
-- reason: DROP COLUMN x2
ALTER TABLE local_site
    DROP COLUMN federation_strict_allowlist;

ALTER TABLE local_site
    DROP COLUMN federation_http_fetch_retry_limit;
