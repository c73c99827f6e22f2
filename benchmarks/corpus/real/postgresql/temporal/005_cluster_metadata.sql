-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.4/cluster_metadata.sql
-- expect: destructive
-- reason: DROP immutable_data columns
ALTER TABLE cluster_metadata DROP immutable_data;
ALTER TABLE cluster_metadata DROP immutable_data_encoding;
