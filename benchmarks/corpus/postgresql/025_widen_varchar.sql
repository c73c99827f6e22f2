-- expect: safe
ALTER TABLE users ALTER COLUMN full_name TYPE varchar(200);
