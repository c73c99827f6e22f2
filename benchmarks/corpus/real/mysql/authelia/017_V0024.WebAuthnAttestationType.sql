-- source: authelia/authelia@23572030b404 internal/storage/migrations/mysql/V0024.WebAuthnAttestationType.up.sql
-- expect: backward_incompatible
-- reason: RENAME COLUMN attestation_type; the old name is re-added with different meaning
ALTER TABLE webauthn_credentials RENAME COLUMN attestation_type TO attestation_format;
ALTER TABLE webauthn_credentials ADD COLUMN attestation_type VARCHAR(32) NOT NULL DEFAULT '';
