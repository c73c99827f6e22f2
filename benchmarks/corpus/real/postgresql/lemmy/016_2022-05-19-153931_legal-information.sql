-- source: LemmyNet/lemmy@439734dd638a migrations/2022-05-19-153931_legal-information/up.sql
-- expect: safe
-- reason: nullable column
ALTER TABLE site
    ADD COLUMN legal_information text;
