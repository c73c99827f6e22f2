-- expect: destructive
DROP SCHEMA legacy CASCADE;
