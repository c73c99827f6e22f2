-- source: supabase/auth@bc32168e13fd migrations/20251111201300_add_scopes_to_sessions.up.sql
-- expect: lock_risk
-- reason: validating CHECK constraint scans the table
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- Add scopes column to sessions table for OAuth scope tracking
-- This is nullable to avoid issues with existing sessions
/* auth_migration: 202511112013000 */
alter table if exists auth.sessions
  add column if not exists scopes text null;

-- Add constraint to ensure scopes are reasonable length (4KB limit)
/* auth_migration: 202511112013000 */
alter table auth.sessions
  add constraint sessions_scopes_length check (char_length(scopes) <= 4096);
