-- source: LemmyNet/lemmy@439734dd638a migrations/2025-08-01-000056_person_note/up.sql
-- expect: safe
-- reason: nullable columns
ALTER TABLE person_actions
    ADD COLUMN noted_at timestamptz,
    ADD COLUMN note text;
