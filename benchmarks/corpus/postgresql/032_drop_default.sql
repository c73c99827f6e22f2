-- expect: backward_incompatible
ALTER TABLE users ALTER COLUMN status DROP DEFAULT;
