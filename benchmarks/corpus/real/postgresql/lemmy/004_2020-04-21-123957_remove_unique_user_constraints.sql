-- source: LemmyNet/lemmy@439734dd638a migrations/2020-04-21-123957_remove_unique_user_constraints/up.sql
-- expect: lock_risk
-- reason: plain DROP INDEX and CREATE UNIQUE INDEX
DROP INDEX idx_user_name_lower;

CREATE UNIQUE INDEX idx_user_name_lower_actor_id ON user_ (lower(name), lower(actor_id));
