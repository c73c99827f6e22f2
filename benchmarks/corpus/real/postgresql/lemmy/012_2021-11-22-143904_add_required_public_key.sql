-- source: LemmyNet/lemmy@439734dd638a migrations/2021-11-22-143904_add_required_public_key/up.sql
-- expect: backward_incompatible, lock_risk
-- reason: SET NOT NULL on public_key (scan and new write restriction)
-- Delete the empty public keys
DELETE FROM community
WHERE public_key IS NULL;

DELETE FROM person
WHERE public_key IS NULL;

-- Make it required
ALTER TABLE community
    ALTER COLUMN public_key SET NOT NULL;

ALTER TABLE person
    ALTER COLUMN public_key SET NOT NULL;
