-- source: supabase/auth@bc32168e13fd migrations/20240314092811_add_saml_name_id_format.up.sql
-- expect: safe
-- reason: nullable column in a DO block
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
do $$ begin
alter table auth.saml_providers add column if not exists name_id_format text null;
end $$
