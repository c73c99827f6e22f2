-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/visibility/versioned/v1.9/add_version_column.sql
-- expect: safe
-- reason: NOT NULL with constant default
ALTER TABLE executions_visibility ADD COLUMN _version BIGINT NOT NULL DEFAULT 0;
