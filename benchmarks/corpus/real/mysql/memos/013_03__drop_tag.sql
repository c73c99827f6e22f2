-- source: usememos/memos@76a762924306 store/migration/mysql/0.22/03__drop_tag.sql
-- expect: destructive
-- reason: DROP TABLE tag
DROP TABLE IF EXISTS `tag`;
