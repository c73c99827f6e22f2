-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/visibility/versioned/v1.7/add_pause_info_search_attribute.sql
-- expect: lock_risk
-- reason: STORED generated column; plain GIN index
ALTER TABLE executions_visibility ADD COLUMN TemporalPauseInfo JSONB GENERATED ALWAYS AS (search_attributes->'TemporalPauseInfo') STORED;
CREATE INDEX by_temporal_pause_info ON executions_visibility USING GIN (namespace_id, TemporalPauseInfo jsonb_path_ops);
