-- source: authelia/authelia@23572030b404 internal/storage/migrations/postgres/V0010.FixConsentIDNotNull.up.sql
-- expect: backward_incompatible
-- reason: DROP NOT NULL on challenge_id and subject
ALTER TABLE oauth2_access_token_session ALTER COLUMN challenge_id DROP NOT NULL, ALTER COLUMN challenge_id SET DEFAULT NULL, ALTER COLUMN subject DROP NOT NULL, ALTER COLUMN subject SET DEFAULT NULL;
