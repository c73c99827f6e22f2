-- source: LemmyNet/lemmy@439734dd638a migrations/2023-02-13-221303_add_instance_software_and_version/up.sql
-- expect: safe
-- reason: nullable columns
-- Add Software and Version columns from nodeinfo to the instance table
ALTER TABLE instance
    ADD COLUMN software varchar(255);

ALTER TABLE instance
    ADD COLUMN version varchar(255);
