-- source: supabase/auth@bc32168e13fd migrations/20240115144230_remove_ip_address_from_saml_relay_state.up.sql
-- expect: destructive
-- reason: DO block drops saml_relay_states.from_ip_address
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
do $$
begin
   if exists (select from information_schema.columns where table_schema = 'auth' and table_name = 'saml_relay_states' and column_name = 'from_ip_address') then
      alter table auth.saml_relay_states drop column from_ip_address;
   end if;
end
$$;
