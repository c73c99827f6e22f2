-- source: supabase/auth@bc32168e13fd migrations/20230116124412_add_deleted_at.up.sql
-- expect: safe
-- reason: nullable column
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- adds deleted_at column to auth.users 

alter table auth.users 
add column if not exists deleted_at timestamptz null;
