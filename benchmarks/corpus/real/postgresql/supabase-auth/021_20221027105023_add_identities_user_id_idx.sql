-- source: supabase/auth@bc32168e13fd migrations/20221027105023_add_identities_user_id_idx.up.sql
-- expect: lock_risk
-- reason: plain CREATE INDEX
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
create index if not exists identities_user_id_idx on auth.identities using btree (user_id);
