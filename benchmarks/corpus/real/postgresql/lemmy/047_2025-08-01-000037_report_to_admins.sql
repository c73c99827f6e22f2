-- source: LemmyNet/lemmy@439734dd638a migrations/2025-08-01-000037_report_to_admins/up.sql
-- expect: safe
-- reason: NOT NULL with constant defaults
ALTER TABLE post_report
    ADD COLUMN violates_instance_rules bool NOT NULL DEFAULT FALSE;

ALTER TABLE comment_report
    ADD COLUMN violates_instance_rules bool NOT NULL DEFAULT FALSE;
