-- expect: backward_incompatible
DROP VIEW active_users;
