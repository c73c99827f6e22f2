-- source: temporalio/temporal@6805caea59e3 schema/mysql/v8/temporal/versioned/v1.3/visibility_tasks.sql
-- expect: safe
-- reason: new table
CREATE TABLE visibility_tasks(
  shard_id INT NOT NULL,
  task_id BIGINT NOT NULL,
  --
  data MEDIUMBLOB NOT NULL,
  data_encoding VARCHAR(16) NOT NULL,
  PRIMARY KEY (shard_id, task_id)
);
