-- expect: safe
-- Cut-over of an online rebuild (gh-ost style): both steps happen atomically.
CREATE TABLE sessions_new LIKE sessions;
RENAME TABLE sessions TO sessions_old, sessions_new TO sessions;
