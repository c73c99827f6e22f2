-- source: LemmyNet/lemmy@439734dd638a migrations/2023-06-24-072904_add_open_links_in_new_tab_setting/up.sql
-- expect: safe
-- reason: NOT NULL with constant default
ALTER TABLE local_user
    ADD COLUMN open_links_in_new_tab boolean DEFAULT FALSE NOT NULL;
