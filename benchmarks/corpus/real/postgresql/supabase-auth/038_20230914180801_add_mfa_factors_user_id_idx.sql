-- source: supabase/auth@bc32168e13fd migrations/20230914180801_add_mfa_factors_user_id_idx.up.sql
-- expect: lock_risk
-- reason: plain CREATE INDEX
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
create index if not exists mfa_factors_user_id_idx on auth.mfa_factors(user_id);
