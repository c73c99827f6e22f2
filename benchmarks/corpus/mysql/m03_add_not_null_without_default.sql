-- expect: backward_incompatible
ALTER TABLE orders ADD COLUMN tenant_id BIGINT NOT NULL;
