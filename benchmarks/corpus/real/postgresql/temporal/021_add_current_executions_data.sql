-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.15/add_current_executions_data.sql
-- expect: safe
-- reason: nullable columns
ALTER TABLE current_executions
  ADD COLUMN data BYTEA NULL,
  ADD COLUMN data_encoding VARCHAR(16) NULL;
