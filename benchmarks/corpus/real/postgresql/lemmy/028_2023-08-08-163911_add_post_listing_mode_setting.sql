-- source: LemmyNet/lemmy@439734dd638a migrations/2023-08-08-163911_add_post_listing_mode_setting/up.sql
-- expect: safe
-- reason: new enum; column with constant default
CREATE TYPE post_listing_mode_enum AS enum (
    'List',
    'Card',
    'SmallCard'
);

ALTER TABLE local_user
    ADD COLUMN post_listing_mode post_listing_mode_enum DEFAULT 'List' NOT NULL;
