-- expect: destructive
ALTER TABLE IF EXISTS billing.invoices DROP COLUMN IF EXISTS pdf_url;
