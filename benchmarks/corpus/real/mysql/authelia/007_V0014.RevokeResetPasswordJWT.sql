-- source: authelia/authelia@23572030b404 internal/storage/migrations/mysql/V0014.RevokeResetPasswordJWT.up.sql
-- expect: safe
-- reason: nullable columns: instant
ALTER TABLE identity_verification
    ADD COLUMN revoked TIMESTAMP NULL DEFAULT NULL,
    ADD COLUMN revoked_ip VARCHAR(39) NULL DEFAULT NULL;
