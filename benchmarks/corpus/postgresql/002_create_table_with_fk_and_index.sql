-- expect: safe
BEGIN;
CREATE TABLE user_preferences (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    theme       text NOT NULL DEFAULT 'light',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_preferences_user_id_idx ON user_preferences (user_id);
COMMIT;
