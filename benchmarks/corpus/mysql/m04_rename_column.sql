-- expect: backward_incompatible
ALTER TABLE users RENAME COLUMN full_name TO display_name;
