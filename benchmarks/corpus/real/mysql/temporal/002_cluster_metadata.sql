-- source: temporalio/temporal@6805caea59e3 schema/mysql/v8/temporal/versioned/v1.1/cluster_metadata.sql
-- expect: backward_incompatible
-- reason: ADD data BLOB NOT NULL without a default: old INSERTs fail
ALTER TABLE cluster_metadata ADD data BLOB NOT NULL;
ALTER TABLE cluster_metadata ADD data_encoding VARCHAR(16) NOT NULL DEFAULT 'Proto3';
ALTER TABLE cluster_metadata ADD version BIGINT NOT NULL DEFAULT 1;
