-- source: supabase/auth@bc32168e13fd migrations/20230523124323_add_mfa_challenge_cleanup_index.up.sql
-- expect: lock_risk
-- reason: plain CREATE INDEX
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- Index used to clean up mfa challenges

create index if not exists
  mfa_challenge_created_at_idx
  on auth.mfa_challenges (created_at desc);
