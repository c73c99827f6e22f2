-- source: supabase/auth@bc32168e13fd migrations/20230402418590_add_authentication_method_to_flow_state_table.up.sql
-- expect: backward_incompatible, lock_risk
-- reason: ADD COLUMN authentication_method text NOT NULL without default; plain CREATE INDEX
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
alter table auth.flow_state
add column if not exists authentication_method text not null;
create index if not exists idx_user_id_auth_method on auth.flow_state (user_id, authentication_method);

-- Update comment as we have generalized the table
comment on table auth.flow_state is 'stores metadata for pkce logins';
