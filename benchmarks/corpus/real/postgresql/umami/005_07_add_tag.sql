-- source: umami-software/umami@c0ea3aefbee7 prisma/migrations/07_add_tag/migration.sql
-- expect: lock_risk
-- reason: nullable column; plain CREATE INDEX on website_event
-- AlterTable
ALTER TABLE "website_event" ADD COLUMN     "tag" VARCHAR(50);

-- CreateIndex
CREATE INDEX "website_event_website_id_created_at_tag_idx" ON "website_event"("website_id", "created_at", "tag");
