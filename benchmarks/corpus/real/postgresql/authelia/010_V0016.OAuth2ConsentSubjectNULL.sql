-- source: authelia/authelia@23572030b404 internal/storage/migrations/postgres/V0016.OAuth2ConsentSubjectNULL.up.sql
-- expect: backward_incompatible
-- reason: subject DROP NOT NULL
ALTER TABLE oauth2_consent_session
    ALTER COLUMN subject DROP NOT NULL,
    ALTER COLUMN subject SET DEFAULT NULL;
