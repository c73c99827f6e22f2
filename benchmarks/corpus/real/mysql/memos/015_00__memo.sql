-- source: usememos/memos@76a762924306 store/migration/mysql/0.24/00__memo.sql
-- expect: destructive
-- reason: DROP COLUMN tags
-- Drop deprecated tags column.
ALTER TABLE `memo` DROP COLUMN `tags`;
