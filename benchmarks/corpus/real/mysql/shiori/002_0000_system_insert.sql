-- source: go-shiori/shiori@585ea341aa59 internal/database/migrations/mysql/0000_system_insert.up.sql
-- expect: safe
-- reason: single INSERT
INSERT INTO shiori_system(database_schema_version) VALUES('0.0.0');
