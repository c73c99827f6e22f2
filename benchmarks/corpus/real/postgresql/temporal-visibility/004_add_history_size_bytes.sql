-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/visibility/versioned/v1.3/add_history_size_bytes.sql
-- expect: lock_risk
-- reason: nullable column; plain CREATE INDEX
ALTER TABLE executions_visibility ADD COLUMN history_size_bytes BIGINT NULL;
CREATE INDEX by_history_size_bytes ON executions_visibility (namespace_id, history_size_bytes, (COALESCE(close_time, '9999-12-31 23:59:59')) DESC, start_time DESC, run_id);
