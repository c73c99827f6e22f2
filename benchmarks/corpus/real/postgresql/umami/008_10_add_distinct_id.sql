-- source: umami-software/umami@c0ea3aefbee7 prisma/migrations/10_add_distinct_id/migration.sql
-- expect: safe
-- reason: nullable columns
-- AlterTable
ALTER TABLE "session" ADD COLUMN     "distinct_id" VARCHAR(50);

-- AlterTable
ALTER TABLE "session_data" ADD COLUMN     "distinct_id" VARCHAR(50);
