-- source: supabase/auth@bc32168e13fd migrations/20230818113222_add_flow_state_to_relay_state.up.sql
-- expect: lock_risk
-- reason: column with REFERENCES adds a validating FK
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
alter table auth.saml_relay_states add column if not exists flow_state_id uuid references auth.flow_state(id) on delete cascade default null;
