-- source: supabase/auth@bc32168e13fd migrations/20221020193600_add_sessions_user_id_index.up.sql
-- expect: lock_risk
-- reason: plain CREATE INDEX
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
create index if not exists sessions_user_id_idx on auth.sessions (user_id);
