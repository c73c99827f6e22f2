-- source: temporalio/temporal@6805caea59e3 schema/mysql/v8/temporal/versioned/v1.7/no_start_version.sql
-- expect: safe
-- reason: SET DEFAULT: metadata only
ALTER TABLE current_executions ALTER COLUMN start_version SET DEFAULT 0;
