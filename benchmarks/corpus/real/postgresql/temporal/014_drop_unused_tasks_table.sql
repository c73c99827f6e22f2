-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.8/drop_unused_tasks_table.sql
-- expect: destructive
-- reason: DROP TABLE tiered_storage_tasks
DROP TABLE tiered_storage_tasks;
