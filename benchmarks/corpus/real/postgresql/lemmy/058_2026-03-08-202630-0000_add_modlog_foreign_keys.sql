-- source: LemmyNet/lemmy@439734dd638a migrations/2026-03-08-202630-0000_add_modlog_foreign_keys/up.sql
-- expect: lock_risk
-- reason: six validating FKs and plain CREATE INDEX on modlog
-- Use on delete set null for all these (except require mod_id), so that if an item is purged, the modlog rows will still remain.
ALTER TABLE modlog
    ADD CONSTRAINT modlog_mod_fkey FOREIGN KEY (mod_id) REFERENCES person ON UPDATE CASCADE ON DELETE CASCADE,
    ADD CONSTRAINT modlog_target_person_fkey FOREIGN KEY (target_person_id) REFERENCES person ON UPDATE CASCADE ON DELETE CASCADE,
    ADD CONSTRAINT modlog_target_community_fkey FOREIGN KEY (target_community_id) REFERENCES community ON UPDATE CASCADE ON DELETE CASCADE,
    ADD CONSTRAINT modlog_target_post_fkey FOREIGN KEY (target_post_id) REFERENCES post ON UPDATE CASCADE ON DELETE CASCADE,
    ADD CONSTRAINT modlog_target_comment_fkey FOREIGN KEY (target_comment_id) REFERENCES COMMENT ON UPDATE CASCADE ON DELETE CASCADE,
    ADD CONSTRAINT modlog_target_instance_fkey FOREIGN KEY (target_instance_id) REFERENCES instance ON UPDATE CASCADE ON DELETE CASCADE;

CREATE INDEX idx_modlog_kind ON modlog (kind);

CREATE INDEX idx_modlog_mod ON modlog (mod_id);

CREATE INDEX idx_modlog_target_person ON modlog (target_person_id)
WHERE
    target_person_id IS NOT NULL;

CREATE INDEX idx_modlog_target_community ON modlog (target_community_id)
WHERE
    target_community_id IS NOT NULL;

CREATE INDEX idx_modlog_target_post ON modlog (target_post_id)
WHERE
    target_post_id IS NOT NULL;

CREATE INDEX idx_modlog_target_comment ON modlog (target_comment_id)
WHERE
    target_comment_id IS NOT NULL;

CREATE INDEX idx_modlog_target_instance ON modlog (target_instance_id)
WHERE
    target_instance_id IS NOT NULL;

CREATE INDEX idx_modlog_published_id ON modlog (published_at DESC, id DESC);
