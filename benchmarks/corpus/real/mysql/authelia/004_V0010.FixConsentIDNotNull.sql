-- source: authelia/authelia@23572030b404 internal/storage/migrations/mysql/V0010.FixConsentIDNotNull.up.sql
-- expect: backward_incompatible
-- reason: MODIFY ... NULL drops NOT NULL of challenge_id and subject (same CHAR(36) type)
ALTER TABLE oauth2_access_token_session MODIFY challenge_id CHAR(36) NULL DEFAULT NULL, MODIFY subject CHAR(36) NULL DEFAULT NULL;
