-- source: supabase/auth@bc32168e13fd migrations/20211122151130_create_user_id_idx.up.sql
-- expect: lock_risk
-- reason: plain CREATE INDEX on identities
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- create index on identities.user_id

CREATE INDEX IF NOT EXISTS identities_user_id_idx ON "auth".identities using btree (user_id);
