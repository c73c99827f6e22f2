-- source: LemmyNet/lemmy@439734dd638a migrations/2023-09-11-110040_rework-2fa-setup/up.sql
-- expect: destructive
-- reason: DROP COLUMN totp_2fa_url
ALTER TABLE local_user
    DROP COLUMN totp_2fa_url;

ALTER TABLE local_user
    ADD COLUMN totp_2fa_enabled boolean NOT NULL DEFAULT FALSE;
