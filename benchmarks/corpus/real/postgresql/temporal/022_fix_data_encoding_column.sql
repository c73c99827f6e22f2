-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.16/fix_data_encoding_column.sql
-- expect: destructive
-- reason: DROP COLUMN data_encoding (re-added empty)
ALTER TABLE current_executions DROP COLUMN data_encoding;
ALTER TABLE current_executions ADD COLUMN data_encoding VARCHAR(16) NOT NULL DEFAULT '';
