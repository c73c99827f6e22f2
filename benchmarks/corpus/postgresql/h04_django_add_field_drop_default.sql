-- expect: backward_incompatible
-- holdout: labelled before turnout ran on it
BEGIN;
--
-- Add field is_staff to account
--
ALTER TABLE "accounts" ADD COLUMN "is_staff" boolean DEFAULT false NOT NULL;
ALTER TABLE "accounts" ALTER COLUMN "is_staff" DROP DEFAULT;
COMMIT;
