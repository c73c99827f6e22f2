-- source: authelia/authelia@23572030b404 internal/storage/migrations/postgres/V0009.FixConstraints.up.sql
-- expect: backward_incompatible, lock_risk
-- reason: aaguid DROP NOT NULL; the UPDATE runs in the same transaction as the ALTER, holding its ACCESS EXCLUSIVE lock
ALTER TABLE webauthn_devices
    ALTER COLUMN aaguid DROP NOT NULL;

UPDATE webauthn_devices
SET aaguid = NULL
WHERE aaguid = '' OR aaguid = '00000000-00000000-00000000-00000000';
