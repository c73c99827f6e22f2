-- source: LemmyNet/lemmy@439734dd638a migrations/2021-03-20-185321_move_matrix_id_to_person/up.sql
-- expect: lock_risk, destructive
-- reason: joined UPDATE of person inside the DDL transaction; DROP COLUMN x2; views recreated with the same names
ALTER TABLE person
    ADD COLUMN matrix_user_id text;

ALTER TABLE person
    ADD COLUMN admin boolean DEFAULT FALSE NOT NULL;

UPDATE
    person p
SET
    matrix_user_id = lu.matrix_user_id,
    admin = lu.admin
FROM
    local_user lu
WHERE
    p.id = lu.person_id;

ALTER TABLE local_user
    DROP COLUMN matrix_user_id;

ALTER TABLE local_user
    DROP COLUMN admin;

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
