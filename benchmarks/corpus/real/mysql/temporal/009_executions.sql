-- source: temporalio/temporal@6805caea59e3 schema/mysql/v8/temporal/versioned/v1.5/executions.sql
-- expect: safe
-- reason: NOT NULL with constant default: instant
ALTER TABLE executions ADD db_record_version BIGINT NOT NULL DEFAULT 0;
