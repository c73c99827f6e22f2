-- source: LemmyNet/lemmy@439734dd638a migrations/2023-07-14-215339_aggregates_nonzero_indexes/up.sql
-- expect: lock_risk
-- reason: plain CREATE INDEX on existing tables
-- Your SQL goes here
CREATE INDEX idx_community_aggregates_nonzero_hotrank ON community_aggregates (published)
WHERE
    hot_rank != 0;

CREATE INDEX idx_comment_aggregates_nonzero_hotrank ON comment_aggregates (published)
WHERE
    hot_rank != 0;

CREATE INDEX idx_post_aggregates_nonzero_hotrank ON post_aggregates (published DESC)
WHERE
    hot_rank != 0 OR hot_rank_active != 0;
