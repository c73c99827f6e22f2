-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.7/cluster_metadata_info.sql
-- expect: safe
-- reason: new table
CREATE TABLE cluster_metadata_info (
  metadata_partition        INTEGER NOT NULL,
  cluster_name              VARCHAR(255) NOT NULL,
  data                      BYTEA NOT NULL,
  data_encoding             VARCHAR(16) NOT NULL,
  version                   BIGINT NOT NULL,
  PRIMARY KEY(metadata_partition, cluster_name)
);
