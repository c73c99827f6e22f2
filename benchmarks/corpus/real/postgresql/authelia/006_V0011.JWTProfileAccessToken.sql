-- source: authelia/authelia@23572030b404 internal/storage/migrations/postgres/V0011.JWTProfileAccessToken.up.sql
-- expect: safe
-- reason: signature varchar(255) -> varchar(768): binary-coercible widening, no rewrite
ALTER TABLE oauth2_access_token_session ALTER COLUMN signature TYPE VARCHAR(768);
