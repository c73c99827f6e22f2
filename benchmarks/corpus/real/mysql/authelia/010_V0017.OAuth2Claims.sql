-- source: authelia/authelia@23572030b404 internal/storage/migrations/mysql/V0017.OAuth2Claims.up.sql
-- expect: safe
-- reason: nullable columns: instant
ALTER TABLE oauth2_consent_session
    ADD COLUMN granted_claims TEXT NULL;

ALTER TABLE oauth2_consent_preconfiguration
    ADD COLUMN requested_claims TEXT,
    ADD COLUMN signature_claims CHAR(64) NULL,
    ADD COLUMN granted_claims TEXT;
