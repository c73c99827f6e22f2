-- source: authelia/authelia@23572030b404 internal/storage/migrations/mysql/V0011.JWTProfileAccessToken.up.sql
-- expect: safe
-- reason: signature VARCHAR(255) -> VARCHAR(768): widening with the 2-byte length prefix kept, in place without copy
ALTER TABLE oauth2_access_token_session MODIFY signature VARCHAR(768) NOT NULL;
