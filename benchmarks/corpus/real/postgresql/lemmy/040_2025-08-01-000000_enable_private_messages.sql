-- source: LemmyNet/lemmy@439734dd638a migrations/2025-08-01-000000_enable_private_messages/up.sql
-- expect: safe
-- reason: NOT NULL with constant default
ALTER TABLE local_user
    ADD COLUMN enable_private_messages boolean DEFAULT TRUE NOT NULL;
