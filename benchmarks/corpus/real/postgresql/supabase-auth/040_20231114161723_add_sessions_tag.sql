-- source: supabase/auth@bc32168e13fd migrations/20231114161723_add_sessions_tag.up.sql
-- expect: safe
-- reason: nullable column
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
alter table if exists auth.sessions
  add column if not exists tag text;
