-- source: usememos/memos@76a762924306 store/migration/mysql/0.22/01__memo_tags.sql
-- expect: backward_incompatible, lock_risk
-- reason: UPDATE of every row; new column made NOT NULL without default, which old INSERTs omit
ALTER TABLE `memo` ADD COLUMN `tags_temp` JSON;
UPDATE `memo` SET `tags_temp` = '[]';
ALTER TABLE `memo` CHANGE COLUMN `tags_temp` `tags` JSON NOT NULL;
