-- source: LemmyNet/lemmy@439734dd638a migrations/2021-04-24-174047_add_show_read_post_setting/up.sql
-- expect: safe
-- reason: NOT NULL with constant default
ALTER TABLE local_user
    ADD COLUMN show_read_posts boolean DEFAULT TRUE NOT NULL;
