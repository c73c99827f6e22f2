-- source: supabase/auth@bc32168e13fd migrations/20230508135423_add_cleanup_indexes.up.sql
-- expect: lock_risk
-- reason: plain CREATE INDEX on existing tables
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- Indexes used for cleaning up old or stale objects.

create index if not exists
  refresh_tokens_updated_at_idx
  on auth.refresh_tokens (updated_at desc);

create index if not exists
  flow_state_created_at_idx
  on auth.flow_state (created_at desc);

create index if not exists
  saml_relay_states_created_at_idx
  on auth.saml_relay_states (created_at desc);

create index if not exists
  sessions_not_after_idx
  on auth.sessions (not_after desc);
