-- expect: destructive
DELETE FROM sessions;
