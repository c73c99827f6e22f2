-- source: supabase/auth@bc32168e13fd migrations/20221021073300_add_refresh_tokens_session_id_revoked_index.up.sql
-- expect: lock_risk
-- reason: plain CREATE INDEX
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
create index if not exists refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);
