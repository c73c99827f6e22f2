-- expect: backward_incompatible
ALTER TABLE orders ADD COLUMN tenant_id bigint NOT NULL;
