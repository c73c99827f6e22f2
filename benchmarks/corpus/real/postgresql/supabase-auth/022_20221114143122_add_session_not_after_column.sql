-- source: supabase/auth@bc32168e13fd migrations/20221114143122_add_session_not_after_column.up.sql
-- expect: safe
-- reason: nullable column and a comment
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
alter table only auth.sessions
  add column if not exists not_after timestamptz;

comment on column auth.sessions.not_after is 'Auth: Not after is a nullable column that contains a timestamp after which the session should be regarded as expired.';
