-- source: usememos/memos@76a762924306 store/migration/mysql/0.24/02__s3_reference_length.sql
-- expect: lock_risk
-- reason: VARCHAR(256) -> TEXT: compatible widening, but a type change copies the table
-- https://github.com/usememos/memos/issues/4322
ALTER TABLE `resource` MODIFY `reference` TEXT NOT NULL DEFAULT ('');
