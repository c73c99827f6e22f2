-- source: go-shiori/shiori@585ea341aa59 internal/database/migrations/mysql/0005_rename_to_created_at.up.sql
-- expect: backward_incompatible
-- reason: RENAME COLUMN modified -> created_at
ALTER TABLE bookmark RENAME COLUMN modified to created_at;
