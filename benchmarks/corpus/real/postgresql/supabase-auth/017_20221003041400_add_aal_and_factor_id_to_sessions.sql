-- source: supabase/auth@bc32168e13fd migrations/20221003041400_add_aal_and_factor_id_to_sessions.up.sql
-- expect: safe
-- reason: nullable columns
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- add factor_id to sessions
 alter table auth.sessions add column if not exists factor_id uuid null;
 alter table auth.sessions add column if not exists aal auth.aal_level null;
