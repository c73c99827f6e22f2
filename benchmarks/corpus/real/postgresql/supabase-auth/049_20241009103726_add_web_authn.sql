-- source: supabase/auth@bc32168e13fd migrations/20241009103726_add_web_authn.up.sql
-- expect: safe
-- reason: nullable columns
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
alter table auth.mfa_factors add column if not exists web_authn_credential jsonb null;
alter table auth.mfa_factors add column if not exists web_authn_aaguid uuid null;
alter table auth.mfa_challenges add column if not exists web_authn_session_data jsonb null;
