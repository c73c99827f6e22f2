-- source: usememos/memos@76a762924306 store/migration/mysql/0.21/01__rename_uid.sql
-- expect: backward_incompatible
-- reason: RENAME COLUMN resource_name -> uid
ALTER TABLE `memo` RENAME COLUMN `resource_name` TO `uid`;

ALTER TABLE `resource` RENAME COLUMN `resource_name` TO `uid`;
