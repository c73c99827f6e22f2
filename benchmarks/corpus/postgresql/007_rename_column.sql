-- expect: backward_incompatible
-- Product wants "display name" everywhere.
ALTER TABLE users RENAME COLUMN full_name TO display_name;
