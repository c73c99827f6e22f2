-- expect: backward_incompatible
ALTER TABLE orders ALTER COLUMN currency DROP DEFAULT;
