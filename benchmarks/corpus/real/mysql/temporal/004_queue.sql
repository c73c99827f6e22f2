-- source: temporalio/temporal@6805caea59e3 schema/mysql/v8/temporal/versioned/v1.2/queue.sql
-- expect: safe
-- reason: NOT NULL columns with constant defaults: instant
ALTER TABLE queue ADD message_encoding VARCHAR(16) NOT NULL DEFAULT 'Json';
ALTER TABLE queue_metadata ADD data_encoding VARCHAR(16) NOT NULL DEFAULT 'Json';
