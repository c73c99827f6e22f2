-- source: temporalio/temporal@6805caea59e3 schema/mysql/v8/visibility/versioned/v1.1/index.sql
-- expect: safe
-- reason: secondary index: in place with concurrent DML
CREATE INDEX by_close_time_by_status ON executions_visibility (namespace_id, close_time DESC, run_id, status);
