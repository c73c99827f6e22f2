-- source: authelia/authelia@23572030b404 internal/storage/migrations/mysql/V0021.MySQLCachedValueType.up.sql
-- expect: backward_incompatible, lock_risk
-- reason: BLOB NOT NULL -> MEDIUMBLOB widens (copies the table) and, restated without NOT NULL, drops NOT NULL
-- relabelled after the first run: the label missed that MODIFY without NOT NULL makes value nullable (V0019 created it NOT NULL)
ALTER TABLE cached_data MODIFY value MEDIUMBLOB;
