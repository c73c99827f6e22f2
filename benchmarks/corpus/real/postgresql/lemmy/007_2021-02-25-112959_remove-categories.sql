-- source: LemmyNet/lemmy@439734dd638a migrations/2021-02-25-112959_remove-categories/up.sql
-- expect: destructive
-- reason: DROP COLUMN category_id and DROP TABLE category
ALTER TABLE community
    DROP COLUMN category_id;

DROP TABLE category;
