-- source: usememos/memos@76a762924306 store/migration/mysql/0.26/02__migrate_host_to_admin.sql
-- expect: safe
-- reason: UPDATE of rows selected by role
UPDATE `user` SET `role` = 'ADMIN' WHERE `role` = 'HOST';
