-- source: LemmyNet/lemmy@439734dd638a migrations/2024-06-24-000000_ap_id_triggers/up.sql
-- expect: backward_incompatible
-- reason: DROP DEFAULT on NOT NULL ap_id columns: old INSERTs that omit ap_id fail
ALTER TABLE comment
    ALTER COLUMN ap_id DROP DEFAULT;

ALTER TABLE post
    ALTER COLUMN ap_id DROP DEFAULT;

ALTER TABLE private_message
    ALTER COLUMN ap_id DROP DEFAULT;
