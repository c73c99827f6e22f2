-- source: usememos/memos@76a762924306 store/migration/mysql/0.27/03__drop_activity.sql
-- expect: destructive
-- reason: DROP TABLE activity
DROP TABLE `activity`;
