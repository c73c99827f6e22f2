-- source: temporalio/temporal@6805caea59e3 schema/mysql/v8/temporal/versioned/v1.4/cluster_metadata.sql
-- expect: destructive
-- reason: drops cluster_metadata.immutable_data columns
ALTER TABLE cluster_metadata DROP immutable_data;
ALTER TABLE cluster_metadata DROP immutable_data_encoding;
