-- source: LemmyNet/lemmy@439734dd638a migrations/2022-04-12-114352_default_post_listing_type/up.sql
-- expect: safe
-- reason: NOT NULL with constant default
ALTER TABLE site
    ADD COLUMN default_post_listing_type text NOT NULL DEFAULT 'Local';
