-- source: authelia/authelia@23572030b404 internal/storage/migrations/postgres/V0022.OAuth2ConsentBinding.up.sql
-- expect: safe
-- reason: NOT NULL with a constant default: instant on PG 11+
ALTER TABLE oauth2_consent_session
    ADD COLUMN expires_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT '2000-01-01 00:00:00+00';
