-- source: supabase/auth@bc32168e13fd migrations/20210722035447_adds_confirmed_at.up.sql
-- expect: lock_risk
-- reason: STORED generated column rewrites users
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- adds confirmed at

ALTER TABLE auth.users
ADD COLUMN IF NOT EXISTS confirmed_at timestamptz GENERATED ALWAYS AS (LEAST (users.email_confirmed_at, users.phone_confirmed_at)) STORED;
