-- source: supabase/auth@bc32168e13fd migrations/20250717082212_add_disabled_to_sso_providers.up.sql
-- expect: lock_risk
-- reason: nullable column; plain CREATE INDEX in a DO block
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
do $$ begin

    alter table only auth.sso_providers
        add column if not exists disabled boolean null;

    create index if not exists sso_providers_resource_id_pattern_idx
        on auth.sso_providers
            (resource_id text_pattern_ops);
end $$;
