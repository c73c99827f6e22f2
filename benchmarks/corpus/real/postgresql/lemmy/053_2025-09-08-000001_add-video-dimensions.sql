-- source: LemmyNet/lemmy@439734dd638a migrations/2025-09-08-000001_add-video-dimensions/up.sql
-- expect: safe
-- reason: nullable columns
ALTER TABLE post
    ADD COLUMN embed_video_width integer,
    ADD COLUMN embed_video_height integer;
