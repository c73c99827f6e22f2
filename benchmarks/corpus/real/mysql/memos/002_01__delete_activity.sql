-- source: usememos/memos@76a762924306 store/migration/mysql/0.17/01__delete_activity.sql
-- expect: destructive
-- reason: DELETE FROM activity without WHERE
DELETE FROM `activity`;
