-- source: temporalio/temporal@6805caea59e3 schema/mysql/v8/temporal/versioned/v1.5/cluster_membership.sql
-- expect: backward_incompatible, lock_risk
-- reason: VARCHAR(15) NOT NULL -> VARCHAR(128) NULL: length prefix grows 1->2 bytes (copy), NOT NULL dropped
ALTER TABLE cluster_membership MODIFY COLUMN rpc_address VARCHAR(128);
