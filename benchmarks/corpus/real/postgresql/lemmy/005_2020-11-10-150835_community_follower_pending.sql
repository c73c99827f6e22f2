-- source: LemmyNet/lemmy@439734dd638a migrations/2020-11-10-150835_community_follower_pending/up.sql
-- expect: safe
-- reason: nullable column with constant default
ALTER TABLE community_follower
    ADD COLUMN pending boolean DEFAULT FALSE;
