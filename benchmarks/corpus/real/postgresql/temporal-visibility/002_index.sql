-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/visibility/versioned/v1.1/index.sql
-- expect: lock_risk
-- reason: plain CREATE INDEX on existing executions_visibility
CREATE INDEX by_close_time_by_status ON executions_visibility (namespace_id, close_time DESC, run_id, status);
