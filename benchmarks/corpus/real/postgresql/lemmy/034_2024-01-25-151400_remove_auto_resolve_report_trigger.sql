-- source: LemmyNet/lemmy@439734dd638a migrations/2024-01-25-151400_remove_auto_resolve_report_trigger/up.sql
-- expect: safe
-- reason: drops triggers and the trigger functions they ran; application code never calls them
DROP TRIGGER IF EXISTS post_removed_resolve_reports ON mod_remove_post;

DROP FUNCTION IF EXISTS post_removed_resolve_reports;

DROP TRIGGER IF EXISTS comment_removed_resolve_reports ON mod_remove_comment;

DROP FUNCTION IF EXISTS comment_removed_resolve_reports;
