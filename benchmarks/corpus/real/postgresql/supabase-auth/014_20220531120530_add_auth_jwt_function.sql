-- source: supabase/auth@bc32168e13fd migrations/20220531120530_add_auth_jwt_function.up.sql
-- expect: safe
-- reason: comments and CREATE OR REPLACE FUNCTION
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- add auth.jwt function

comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
comment on function auth.role() is 'Deprecated. Use auth.jwt() -> ''role'' instead.';
comment on function auth.email() is 'Deprecated. Use auth.jwt() -> ''email'' instead.';

create or replace function auth.jwt()
returns jsonb
language sql stable
as $$
  select 
    coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$$;
