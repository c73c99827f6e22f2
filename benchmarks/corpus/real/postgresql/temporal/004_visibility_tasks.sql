-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.3/visibility_tasks.sql
-- expect: safe
-- reason: new table
CREATE TABLE visibility_tasks(
  shard_id INTEGER NOT NULL,
  task_id BIGINT NOT NULL,
  --
  data BYTEA NOT NULL,
  data_encoding VARCHAR(16) NOT NULL,
  PRIMARY KEY (shard_id, task_id)
);
