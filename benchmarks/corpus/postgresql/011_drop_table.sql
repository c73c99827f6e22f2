-- expect: destructive
DROP TABLE IF EXISTS sessions;
