-- source: usememos/memos@76a762924306 store/migration/mysql/0.30/00__user_tag_setting.sql
-- expect: safe
-- reason: INSERT IGNORE ... SELECT into an existing table (no DDL lock held)
INSERT IGNORE INTO `user_setting` (`user_id`, `key`, `value`)
SELECT
  `user`.`id`,
  'TAGS',
  `system_setting`.`value`
FROM `user`
JOIN `system_setting` ON `system_setting`.`name` = 'TAGS'
WHERE `system_setting`.`value` IS NOT NULL
  AND `system_setting`.`value` != ''
  AND `system_setting`.`value` != '{}';
