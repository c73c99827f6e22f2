-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/temporal/versioned/v1.5/cluster_membership.sql
-- expect: safe
-- reason: rpc_address varchar(15) -> varchar(128): binary-coercible widening
ALTER TABLE cluster_membership ALTER COLUMN rpc_address TYPE VARCHAR(128);
