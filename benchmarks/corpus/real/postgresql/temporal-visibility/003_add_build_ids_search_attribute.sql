-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/visibility/versioned/v1.3/add_build_ids_search_attribute.sql
-- expect: lock_risk
-- reason: STORED generated column; plain GIN index
ALTER TABLE executions_visibility ADD COLUMN BuildIds JSONB GENERATED ALWAYS AS (search_attributes->'BuildIds') STORED;
CREATE INDEX by_build_ids ON executions_visibility USING GIN (namespace_id, BuildIds jsonb_path_ops);
