-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/visibility/versioned/v1.4/add_execution_duration.sql
-- expect: lock_risk
-- reason: nullable column; plain CREATE INDEX
ALTER TABLE executions_visibility ADD COLUMN execution_duration BIGINT NULL;
CREATE INDEX by_execution_duration ON executions_visibility (namespace_id, execution_duration, (COALESCE(close_time, '9999-12-31 23:59:59')) DESC, start_time DESC, run_id);
