-- source: supabase/auth@bc32168e13fd migrations/20231117164230_add_id_pkey_identities.up.sql
-- expect: backward_incompatible, lock_risk
-- reason: renames identities.id; new id column with gen_random_uuid() default rewrites and builds a PK; UNIQUE constraint
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
do $$
begin
    if not exists(select * 
        from information_schema.columns
        where table_schema = 'auth' and table_name='identities' and column_name='provider_id')
    then
        alter table if exists auth.identities 
        rename column id to provider_id;
    end if;
end$$;

alter table if exists auth.identities 
    drop constraint if exists identities_pkey,
    add column if not exists id uuid default gen_random_uuid() primary key;

do $$
begin
  if not exists
     (select constraint_name
      from information_schema.table_constraints
      where table_schema = 'auth'
      and table_name = 'identities'
      and constraint_name = 'identities_provider_id_provider_unique')
  then
    alter table if exists auth.identities 
    add constraint identities_provider_id_provider_unique 
    unique(provider_id, provider);
  end if;
end $$;
