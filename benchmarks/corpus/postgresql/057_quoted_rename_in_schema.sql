-- expect: backward_incompatible
ALTER TABLE billing.invoices RENAME COLUMN "DueDate" TO due_date;
