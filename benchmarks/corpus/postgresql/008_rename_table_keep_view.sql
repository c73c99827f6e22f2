-- expect: safe
-- Rename, and keep the old name working for the running version through an updatable view.
BEGIN;
ALTER TABLE sessions RENAME TO user_sessions;
CREATE VIEW sessions AS SELECT * FROM user_sessions;
COMMIT;
