-- source: go-shiori/shiori@585ea341aa59 internal/database/migrations/mysql/0006_change_created_at_settings.up.sql
-- expect: safe
-- reason: same type and nullability, only ON UPDATE dropped: metadata change
ALTER TABLE bookmark
MODIFY created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP;
