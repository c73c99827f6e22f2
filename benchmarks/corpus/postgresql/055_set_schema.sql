-- expect: backward_incompatible
CREATE SCHEMA IF NOT EXISTS catalog;
ALTER TABLE products SET SCHEMA catalog;
