-- source: LemmyNet/lemmy@439734dd638a migrations/2023-11-01-223740_federation-published/up.sql
-- expect: backward_incompatible
-- reason: DROP NOT NULL on last_successful_id and last_retry
ALTER TABLE federation_queue_state
    ADD COLUMN last_successful_published_time timestamptz NULL,
    ALTER COLUMN last_successful_id DROP NOT NULL,
    ALTER COLUMN last_retry DROP NOT NULL;
