-- source: go-shiori/shiori@585ea341aa59 internal/database/migrations/mysql/0007_add_modified_at.up.sql
-- expect: safe
-- reason: NOT NULL column with a default: instant ADD COLUMN
ALTER TABLE bookmark
ADD COLUMN modified_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP;
