-- source: supabase/auth@bc32168e13fd migrations/20240306115329_add_issued_at_to_flow_state.up.sql
-- expect: safe
-- reason: nullable column in a DO block
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
do $$ begin
alter table auth.flow_state add column if not exists auth_code_issued_at timestamptz null;
end $$
