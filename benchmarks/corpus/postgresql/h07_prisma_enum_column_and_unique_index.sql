-- expect: lock_risk
-- holdout: labelled before turnout ran on it
-- AlterTable
ALTER TABLE "users" ADD COLUMN     "role" "Role" NOT NULL DEFAULT 'USER';

-- CreateIndex
CREATE UNIQUE INDEX "users_login_key" ON "users"("login");
