-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.6/queue_metadata.sql
-- expect: safe
-- reason: NOT NULL with constant default
ALTER TABLE queue_metadata ADD version BIGINT NOT NULL DEFAULT 0;
