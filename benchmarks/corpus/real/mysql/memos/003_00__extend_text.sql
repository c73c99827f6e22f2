-- source: usememos/memos@76a762924306 store/migration/mysql/0.18/00__extend_text.sql
-- expect: lock_risk
-- reason: TEXT -> LONGTEXT widenings: compatible, but a data type change copies the table
ALTER TABLE `system_setting` MODIFY `value` LONGTEXT NOT NULL;
ALTER TABLE `user_setting` MODIFY `value` LONGTEXT NOT NULL;
ALTER TABLE `user` MODIFY `avatar_url` LONGTEXT NOT NULL;
