-- expect: backward_incompatible
DROP FUNCTION IF EXISTS users_sync_username();
