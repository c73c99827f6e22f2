-- source: go-shiori/shiori@585ea341aa59 internal/database/migrations/mysql/0008_set_modified_at_equal_created_at.up.sql
-- expect: lock_risk
-- reason: UPDATE of every row (WHERE created_at IS NOT NULL) in one statement
UPDATE bookmark
SET modified_at = COALESCE(created_at, CURRENT_TIMESTAMP)
WHERE created_at IS NOT NULL;
