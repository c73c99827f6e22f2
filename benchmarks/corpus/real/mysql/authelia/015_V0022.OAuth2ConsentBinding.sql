-- source: authelia/authelia@23572030b404 internal/storage/migrations/mysql/V0022.OAuth2ConsentBinding.up.sql
-- expect: safe
-- reason: NOT NULL column with a constant default: instant
ALTER TABLE oauth2_consent_session
    ADD COLUMN expires_at TIMESTAMP NOT NULL DEFAULT '2000-01-01 00:00:00';
