-- source: supabase/auth@bc32168e13fd migrations/20220114185221_update_user_idx.up.sql
-- expect: lock_risk
-- reason: plain DROP INDEX and CREATE INDEX on users
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- updates users_instance_id_email_idx definition

DROP INDEX IF EXISTS users_instance_id_email_idx;
CREATE INDEX IF NOT EXISTS users_instance_id_email_idx on "auth".users using btree (instance_id, lower(email));
