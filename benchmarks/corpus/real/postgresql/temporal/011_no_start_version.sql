-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.7/no_start_version.sql
-- expect: safe
-- reason: SET DEFAULT only
ALTER TABLE current_executions ALTER COLUMN start_version SET DEFAULT 0;
