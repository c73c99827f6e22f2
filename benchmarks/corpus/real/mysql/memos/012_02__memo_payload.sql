-- source: usememos/memos@76a762924306 store/migration/mysql/0.22/02__memo_payload.sql
-- expect: backward_incompatible, lock_risk
-- reason: UPDATE of every row; new column made NOT NULL without default, which old INSERTs omit
ALTER TABLE `memo` ADD COLUMN `payload_temp` JSON;
UPDATE `memo` SET `payload_temp` = '{}';
ALTER TABLE `memo` CHANGE COLUMN `payload_temp` `payload` JSON NOT NULL;
