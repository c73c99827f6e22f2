-- source: LemmyNet/lemmy@439734dd638a migrations/2025-08-01-000021_add_blurhash_to_image_details/up.sql
-- expect: safe
-- reason: nullable column
-- Add a blurhash column for image_details
ALTER TABLE image_details
-- Supposed to be 20-30 chars, use 50 to be safe
    ADD COLUMN blurhash varchar(50);
