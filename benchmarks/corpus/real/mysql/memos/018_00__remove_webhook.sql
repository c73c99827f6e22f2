-- source: usememos/memos@76a762924306 store/migration/mysql/0.25/00__remove_webhook.sql
-- expect: destructive
-- reason: DROP TABLE webhook
DROP TABLE IF EXISTS webhook;
