-- source: LemmyNet/lemmy@439734dd638a migrations/2025-08-01-000015_add_mark_fetched_posts_as_read/up.sql
-- expect: safe
-- reason: NOT NULL with constant default
ALTER TABLE local_user
    ADD COLUMN auto_mark_fetched_posts_as_read boolean DEFAULT FALSE NOT NULL;
