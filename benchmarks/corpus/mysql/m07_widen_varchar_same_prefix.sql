-- expect: safe
ALTER TABLE users MODIFY COLUMN phone VARCHAR(40) NULL;
