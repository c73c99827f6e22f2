-- source: LemmyNet/lemmy@439734dd638a migrations/2025-08-01-000044_post_comment_pending/up.sql
-- expect: safe
-- reason: NOT NULL with constant defaults
-- When posting to a remote community mark it as pending until it gets announced back to us.
-- This way the posts of banned users wont appear in the community on other instances.
ALTER TABLE post
    ADD COLUMN federation_pending boolean NOT NULL DEFAULT FALSE;

ALTER TABLE comment
    ADD COLUMN federation_pending boolean NOT NULL DEFAULT FALSE;
