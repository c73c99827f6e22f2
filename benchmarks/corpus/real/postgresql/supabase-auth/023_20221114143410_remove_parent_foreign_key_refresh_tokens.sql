-- source: supabase/auth@bc32168e13fd migrations/20221114143410_remove_parent_foreign_key_refresh_tokens.up.sql
-- expect: safe
-- reason: DROP of a foreign key: old code keeps working
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
alter table only auth.refresh_tokens
  drop constraint refresh_tokens_parent_fkey;
