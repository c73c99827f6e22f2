-- source: LemmyNet/lemmy@439734dd638a migrations/2023-09-28-084231_import_user_settings_rate_limit/up.sql
-- expect: safe
-- reason: NOT NULL with constant defaults
ALTER TABLE local_site_rate_limit
    ADD COLUMN import_user_settings int NOT NULL DEFAULT 1;

ALTER TABLE local_site_rate_limit
    ADD COLUMN import_user_settings_per_second int NOT NULL DEFAULT 86400;
