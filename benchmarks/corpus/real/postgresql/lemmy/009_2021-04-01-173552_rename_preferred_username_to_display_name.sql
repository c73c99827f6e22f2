-- source: LemmyNet/lemmy@439734dd638a migrations/2021-04-01-173552_rename_preferred_username_to_display_name/up.sql
-- expect: backward_incompatible
-- reason: RENAME COLUMN preferred_username -> display_name
ALTER TABLE person RENAME preferred_username TO display_name;

-- Regenerate the person_alias views
DROP VIEW person_alias_1, person_alias_2;

CREATE VIEW person_alias_1 AS
SELECT
    *
FROM
    person;

CREATE VIEW person_alias_2 AS
SELECT
    *
FROM
    person;
