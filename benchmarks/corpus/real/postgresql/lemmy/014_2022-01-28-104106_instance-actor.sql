-- source: LemmyNet/lemmy@439734dd638a migrations/2022-01-28-104106_instance-actor/up.sql
-- expect: lock_risk
-- reason: defaults call a volatile user function (rewrite); UNIQUE column builds an index
ALTER TABLE site
    ADD COLUMN actor_id varchar(255) NOT NULL UNIQUE DEFAULT generate_unique_changeme (),
    ADD COLUMN last_refreshed_at timestamp NOT NULL DEFAULT now(),
    ADD COLUMN inbox_url varchar(255) NOT NULL DEFAULT generate_unique_changeme (),
    ADD COLUMN private_key text,
    ADD COLUMN public_key text NOT NULL DEFAULT generate_unique_changeme ();
