-- source: supabase/auth@bc32168e13fd migrations/20220614074223_add_ip_address_to_audit_log.postgres.up.sql
-- expect: safe
-- reason: NOT NULL with constant default
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- Add IP Address to audit log
ALTER TABLE auth.audit_log_entries
ADD COLUMN IF NOT EXISTS ip_address VARCHAR(64) NOT NULL DEFAULT '';
