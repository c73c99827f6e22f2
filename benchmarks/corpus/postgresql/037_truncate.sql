-- expect: destructive
TRUNCATE sessions;
