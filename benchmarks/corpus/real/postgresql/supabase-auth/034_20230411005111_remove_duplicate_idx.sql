-- source: supabase/auth@bc32168e13fd migrations/20230411005111_remove_duplicate_idx.up.sql
-- expect: lock_risk
-- reason: plain DROP INDEX
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
drop index if exists auth.refresh_tokens_token_idx;
