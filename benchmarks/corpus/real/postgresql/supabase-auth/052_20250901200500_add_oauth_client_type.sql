-- source: supabase/auth@bc32168e13fd migrations/20250901200500_add_oauth_client_type.up.sql
-- expect: backward_incompatible
-- reason: client_secret_hash DROP NOT NULL; enum column with constant default is instant
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- Make client_secret_hash nullable to support public clients
-- Public clients don't have client secrets, only confidential clients do

alter table auth.oauth_clients alter column client_secret_hash drop not null;

-- Add client_type enum and column to oauth_clients table
do $$ begin
    create type auth.oauth_client_type as enum('public', 'confidential');
exception
    when duplicate_object then null;
end $$;

-- Add client_type column to oauth_clients table
alter table auth.oauth_clients  add column if not exists client_type auth.oauth_client_type not null default 'confidential';
