-- source: supabase/auth@bc32168e13fd migrations/20221208132122_backfill_email_last_sign_in_at.up.sql
-- expect: safe
-- reason: DO block UPDATE of a filtered subset
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- previous backfill migration left last_sign_in_at to be null, which broke some projects

do $$
begin
update auth.identities
  set last_sign_in_at = '2022-11-25'
  where
    last_sign_in_at is null and
    created_at = '2022-11-25' and
    updated_at = '2022-11-25' and
    provider = 'email' and
    id::text = user_id::text;
end $$;
