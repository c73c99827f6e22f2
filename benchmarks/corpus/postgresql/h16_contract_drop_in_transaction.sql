-- expect: destructive
-- holdout: labelled before turnout ran on it
BEGIN;
-- contract step: login was replaced by username in release 41
ALTER TABLE users DROP COLUMN IF EXISTS login;
COMMIT;
