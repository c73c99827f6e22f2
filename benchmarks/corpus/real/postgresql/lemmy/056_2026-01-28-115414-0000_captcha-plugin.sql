-- source: LemmyNet/lemmy@439734dd638a migrations/2026-01-28-115414-0000_captcha-plugin/up.sql
-- expect: destructive
-- reason: DROP TABLE captcha_answer, DROP COLUMN x2
DROP TABLE captcha_answer;

ALTER TABLE local_site
    DROP COLUMN captcha_enabled;

ALTER TABLE local_site
    DROP COLUMN captcha_difficulty;
