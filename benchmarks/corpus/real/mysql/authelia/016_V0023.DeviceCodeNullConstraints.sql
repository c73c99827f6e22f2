-- source: authelia/authelia@23572030b404 internal/storage/migrations/mysql/V0023.DeviceCodeNullConstraints.up.sql
-- expect: backward_incompatible
-- reason: MODIFY subject ... NULL drops NOT NULL
ALTER TABLE oauth2_device_code_session
    MODIFY subject CHAR(36) NULL DEFAULT NULL;
