-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.5/executions.sql
-- expect: safe
-- reason: NOT NULL with constant default
ALTER TABLE executions ADD db_record_version BIGINT NOT NULL DEFAULT 0;
