-- source: supabase/auth@bc32168e13fd migrations/20221215195900_remove_sso_sessions.up.sql
-- expect: destructive
-- reason: DROP TABLE sso_sessions
-- note: the template placeholder {{ index .Options "Namespace" }} is replaced by auth (its default)
-- sso_sessions is not used as all of the necessary data is in sessions
drop table if exists auth.sso_sessions;
