-- source: supabase/auth@bc32168e13fd migrations/20240214120130_add_is_anonymous_column.up.sql
-- expect: lock_risk
-- reason: constant-default column; plain CREATE INDEX on users
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
do $$
begin
   alter table auth.users 
   add column if not exists is_anonymous boolean not null default false;

   create index if not exists users_is_anonymous_idx  on auth.users using btree (is_anonymous);
end
$$;
