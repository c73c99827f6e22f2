-- source: LemmyNet/lemmy@439734dd638a migrations/2025-10-08-084508-0000_multi-comm-index-lower/up.sql
-- expect: lock_risk
-- reason: plain CREATE UNIQUE INDEX on multi_community
CREATE UNIQUE INDEX idx_multi_community_lower_actor_id ON multi_community (lower(ap_id));
