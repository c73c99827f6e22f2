-- source: LemmyNet/lemmy@439734dd638a migrations/2024-04-15-105932_community_followers_url_optional/up.sql
-- expect: backward_incompatible
-- reason: followers_url DROP NOT NULL
ALTER TABLE community
    ALTER COLUMN followers_url DROP NOT NULL;
