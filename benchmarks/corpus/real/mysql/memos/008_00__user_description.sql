-- source: usememos/memos@76a762924306 store/migration/mysql/0.21/00__user_description.sql
-- expect: safe
-- reason: NOT NULL with constant default: instant
ALTER TABLE `user` ADD COLUMN `description` VARCHAR(256) NOT NULL DEFAULT '';
