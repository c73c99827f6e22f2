-- source: supabase/auth@bc32168e13fd migrations/20240802193726_add_mfa_factors_column_last_challenged_at.up.sql
-- expect: lock_risk
-- reason: UNIQUE column builds an index under ACCESS EXCLUSIVE
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
alter table auth.mfa_factors add column if not exists last_challenged_at timestamptz unique default null;
