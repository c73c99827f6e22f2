-- source: LemmyNet/lemmy@439734dd638a migrations/2022-08-04-150644_add_application_email_admins/up.sql
-- expect: safe
-- reason: NOT NULL with constant default
-- Adding a field to email admins for new applications
ALTER TABLE site
    ADD COLUMN application_email_admins boolean NOT NULL DEFAULT FALSE;
