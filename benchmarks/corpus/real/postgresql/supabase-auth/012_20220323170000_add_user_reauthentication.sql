-- source: supabase/auth@bc32168e13fd migrations/20220323170000_add_user_reauthentication.up.sql
-- expect: safe
-- reason: nullable columns, constant default
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- adds reauthentication_token and reauthentication_sent_at 

ALTER TABLE auth.users
ADD COLUMN IF NOT EXISTS reauthentication_token varchar(255) null default '',
ADD COLUMN IF NOT EXISTS reauthentication_sent_at timestamptz null default null;
