-- expect: safe
ALTER TABLE billing.invoices ADD COLUMN "PaidAt" timestamptz;
ALTER TABLE "Audit Log" ADD COLUMN "ipAddress" inet;
CREATE INDEX CONCURRENTLY "audit_log_actorId_idx" ON "Audit Log" ("actorId");
