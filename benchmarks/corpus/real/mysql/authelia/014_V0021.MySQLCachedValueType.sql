-- source: authelia/authelia@23572030b404 internal/storage/migrations/mysql/V0021.MySQLCachedValueType.up.sql
-- expect: lock_risk
-- reason: BLOB -> MEDIUMBLOB is a widening (old code keeps working) but a data type change copies the table
ALTER TABLE cached_data MODIFY value MEDIUMBLOB;
