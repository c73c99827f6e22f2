-- source: LemmyNet/lemmy@439734dd638a migrations/2023-07-05-000058_person-admin/up.sql
-- expect: lock_risk
-- reason: plain DROP INDEX and CREATE INDEX
DROP INDEX IF EXISTS idx_person_admin;

CREATE INDEX idx_person_admin ON person (admin)
WHERE
    admin;

-- allow quickly finding all admins (PersonView::admins)
