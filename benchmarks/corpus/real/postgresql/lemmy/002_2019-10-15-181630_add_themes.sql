-- source: LemmyNet/lemmy@439734dd638a migrations/2019-10-15-181630_add_themes/up.sql
-- expect: safe
-- reason: NOT NULL with constant default
ALTER TABLE user_
    ADD COLUMN theme varchar(20) DEFAULT 'darkly' NOT NULL;
