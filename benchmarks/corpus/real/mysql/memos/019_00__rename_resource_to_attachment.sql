-- source: usememos/memos@76a762924306 store/migration/mysql/0.26/00__rename_resource_to_attachment.sql
-- expect: backward_incompatible
-- reason: RENAME TABLE resource TO attachment
RENAME TABLE resource TO attachment;
