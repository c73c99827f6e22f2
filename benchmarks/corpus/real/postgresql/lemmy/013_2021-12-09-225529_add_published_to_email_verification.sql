-- source: LemmyNet/lemmy@439734dd638a migrations/2021-12-09-225529_add_published_to_email_verification/up.sql
-- expect: safe
-- reason: NOT NULL DEFAULT now(): now() is stable, no rewrite on PG 11+
ALTER TABLE email_verification
    ADD COLUMN published timestamp NOT NULL DEFAULT now();
