-- expect: lock_risk
ALTER TABLE page_views ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
