-- source: temporalio/temporal@6805caea59e3 schema/postgresql/v12/visibility/versioned/v1.10/add_temporal_reported_columns.sql
-- expect: lock_risk
-- reason: STORED generated column rewrites the table; plain GIN index
ALTER TABLE executions_visibility ADD COLUMN TemporalReportedProblems JSONB GENERATED ALWAYS AS (search_attributes->'TemporalReportedProblems') STORED;
CREATE INDEX by_temporal_reported_problems ON executions_visibility USING GIN (namespace_id, TemporalReportedProblems jsonb_path_ops);
