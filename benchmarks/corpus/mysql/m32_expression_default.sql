-- expect: lock_risk
-- Expression defaults are not INSTANT: the table is rebuilt with a copy.
ALTER TABLE orders ADD COLUMN public_id CHAR(36) NULL DEFAULT (UUID());
