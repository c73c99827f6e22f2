-- source: usememos/memos@76a762924306 store/migration/mysql/0.27/01__add_idp_uid.sql
-- expect: lock_risk
-- reason: NOT NULL default is instant; UPDATE ... WHERE uid = '' then rewrites every row; unique index is built in place
-- Add uid column to idp table
ALTER TABLE `idp` ADD COLUMN `uid` VARCHAR(256) NOT NULL DEFAULT '';

-- Populate uid for existing rows using hex of id as a fallback
UPDATE `idp` SET `uid` = LOWER(LPAD(HEX(`id`), 8, '0')) WHERE `uid` = '';

-- Create unique index on uid
ALTER TABLE `idp` ADD UNIQUE INDEX `idx_idp_uid` (`uid`);
