-- expect: destructive, lock_risk
-- holdout: labelled before turnout ran on it
-- relabelled (issue 14): dropping the foreign key is compatible; the DROP COLUMN is what loses data
-- DropForeignKey
ALTER TABLE "order_items" DROP CONSTRAINT "order_items_order_id_fkey";

-- AlterTable
ALTER TABLE "order_items" DROP COLUMN "order_id",
ADD COLUMN     "orderId" BIGINT;

-- AddForeignKey
ALTER TABLE "order_items" ADD CONSTRAINT "order_items_orderId_fkey" FOREIGN KEY ("orderId") REFERENCES "orders"("id") ON DELETE SET NULL ON UPDATE CASCADE;
