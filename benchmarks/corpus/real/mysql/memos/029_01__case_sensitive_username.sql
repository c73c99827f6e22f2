-- source: usememos/memos@76a762924306 store/migration/mysql/0.30/01__case_sensitive_username.sql
-- expect: lock_risk
-- reason: collation change of username copies the table (and rebuilds its indexes)
ALTER TABLE `user`
  MODIFY `username` VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
