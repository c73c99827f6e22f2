-- source: supabase/auth@bc32168e13fd migrations/20250904133000_add_oauth_client_id_to_session.up.sql
-- expect: lock_risk
-- reason: VALIDATE in the same transaction as ADD ... NOT VALID; plain CREATE INDEX
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
alter table if exists auth.sessions
  add column if not exists oauth_client_id uuid;

alter table auth.sessions
  add constraint sessions_oauth_client_id_fkey foreign key (oauth_client_id)
  references auth.oauth_clients(id) on delete cascade not valid;

alter table auth.sessions
  validate constraint sessions_oauth_client_id_fkey;

create index if not exists sessions_oauth_client_id_idx on auth.sessions (oauth_client_id);
