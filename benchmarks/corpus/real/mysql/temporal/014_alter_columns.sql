-- source: temporalio/temporal@6805caea59e3 schema/mysql/v8/temporal/versioned/v1.8/alter_columns.sql
-- expect: backward_incompatible
-- reason: VARCHAR(64) NOT NULL -> VARCHAR(255) NULL: in place (prefix already 2 bytes), but NOT NULL dropped
ALTER TABLE current_executions MODIFY COLUMN create_request_id VARCHAR(255);
ALTER TABLE signals_requested_sets MODIFY COLUMN signal_id VARCHAR(255);
