-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.1/cluster_metadata.sql
-- expect: safe
-- reason: NOT NULL columns with constant defaults: instant on PG 11+
ALTER TABLE cluster_metadata ADD data BYTEA NOT NULL DEFAULT '';
ALTER TABLE cluster_metadata ADD data_encoding VARCHAR(16) NOT NULL DEFAULT 'Proto3';
ALTER TABLE cluster_metadata ADD version BIGINT NOT NULL DEFAULT 1;
