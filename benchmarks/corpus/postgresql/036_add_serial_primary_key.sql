-- expect: lock_risk
ALTER TABLE page_views ADD COLUMN id bigserial PRIMARY KEY;
