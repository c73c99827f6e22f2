-- source: go-shiori/shiori@585ea341aa59 internal/database/migrations/mysql/0010_index_for_modified_at.up.sql
-- expect: safe
-- reason: secondary index: in place with concurrent DML
CREATE INDEX idx_modified_at ON bookmark (modified_at);
