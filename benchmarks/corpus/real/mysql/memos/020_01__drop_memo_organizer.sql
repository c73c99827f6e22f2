-- source: usememos/memos@76a762924306 store/migration/mysql/0.26/01__drop_memo_organizer.sql
-- expect: destructive
-- reason: DROP TABLE memo_organizer
DROP TABLE IF EXISTS memo_organizer;
