-- expect: destructive
TRUNCATE TABLE sessions;
