-- source: authelia/authelia@23572030b404 internal/storage/migrations/postgres/V0017.OAuth2Claims.up.sql
-- expect: safe
-- reason: nullable columns, constant default
ALTER TABLE oauth2_consent_session
    ADD COLUMN granted_claims TEXT NULL;

ALTER TABLE oauth2_consent_preconfiguration
    ADD COLUMN requested_claims TEXT NULL,
    ADD COLUMN signature_claims CHAR(64) NULL,
    ADD COLUMN granted_claims TEXT DEFAULT '';
