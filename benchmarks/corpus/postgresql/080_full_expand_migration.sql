-- expect: safe
/*
 * Release 42, expand step: e-mail verification.
 * Old code keeps working: only additions, no rewrites, short locks.
 */
SET lock_timeout = '2s';
SET statement_timeout = '15min';

ALTER TABLE users ADD COLUMN email_verified_at timestamptz;   -- nullable: instant
ALTER TABLE users ADD COLUMN verification_token text;

CREATE INDEX CONCURRENTLY IF NOT EXISTS users_verification_token_idx
    ON users (verification_token)
    WHERE verification_token IS NOT NULL;

COMMENT ON COLUMN users.email_verified_at IS 'NULL until the user clicks the link';
