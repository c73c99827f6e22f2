-- expect: backward_incompatible
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
