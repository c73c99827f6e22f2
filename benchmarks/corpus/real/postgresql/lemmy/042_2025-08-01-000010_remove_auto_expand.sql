-- source: LemmyNet/lemmy@439734dd638a migrations/2025-08-01-000010_remove_auto_expand/up.sql
-- expect: destructive
-- reason: DROP COLUMN auto_expand
ALTER TABLE local_user
    DROP COLUMN auto_expand;
