-- source: go-shiori/shiori@585ea341aa59 internal/database/migrations/mysql/0009_index_for_created_at.up.sql
-- expect: safe
-- reason: secondary index: InnoDB builds it in place with concurrent DML
CREATE INDEX idx_created_at ON bookmark (created_at);
