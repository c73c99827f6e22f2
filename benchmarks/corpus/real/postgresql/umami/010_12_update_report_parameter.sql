-- source: umami-software/umami@c0ea3aefbee7 prisma/migrations/12_update_report_parameter/migration.sql
-- expect: backward_incompatible, lock_risk
-- reason: varchar -> jsonb USING: representation change (old code's text writes must be JSON) and a rewrite
-- AlterTable
ALTER TABLE "report"
ALTER COLUMN "parameters" SET DATA TYPE JSONB USING parameters::JSONB;
