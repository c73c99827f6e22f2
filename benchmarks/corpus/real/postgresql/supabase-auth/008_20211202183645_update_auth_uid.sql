-- source: supabase/auth@bc32168e13fd migrations/20211202183645_update_auth_uid.up.sql
-- expect: safe
-- reason: CREATE OR REPLACE FUNCTION
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- update auth.uid()

create or replace function auth.uid()
returns uuid
language sql stable
as $$
  select
  nullif(
    coalesce(
      current_setting('request.jwt.claim.sub', true),
      (current_setting('request.jwt.claims', true)::jsonb ->> 'sub')
    ),
    ''
  )::uuid
$$;
