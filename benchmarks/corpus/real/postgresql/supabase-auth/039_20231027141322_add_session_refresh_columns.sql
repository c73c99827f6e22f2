-- source: supabase/auth@bc32168e13fd migrations/20231027141322_add_session_refresh_columns.up.sql
-- expect: safe
-- reason: nullable columns
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
alter table if exists auth.sessions
  add column if not exists refreshed_at timestamp without time zone,
  add column if not exists user_agent text,
  add column if not exists ip inet;
