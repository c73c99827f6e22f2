-- source: supabase/auth@bc32168e13fd migrations/20220114185340_add_banned_until.up.sql
-- expect: safe
-- reason: nullable column
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- adds banned_until column

ALTER TABLE auth.users
ADD COLUMN IF NOT EXISTS banned_until timestamptz NULL;
