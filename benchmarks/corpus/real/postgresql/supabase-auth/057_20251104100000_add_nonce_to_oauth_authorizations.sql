-- source: supabase/auth@bc32168e13fd migrations/20251104100000_add_nonce_to_oauth_authorizations.up.sql
-- expect: lock_risk
-- reason: validating CHECK constraint scans the table
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
/* auth_migration: 20251104100000 */
alter table auth.oauth_authorizations
    add column if not exists nonce text null;

/* auth_migration: 20251104100000 */
alter table auth.oauth_authorizations
    add constraint oauth_authorizations_nonce_length check (char_length(nonce) <= 255);
