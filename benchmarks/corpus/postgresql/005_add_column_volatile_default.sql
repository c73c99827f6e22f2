-- expect: lock_risk
ALTER TABLE orders
    ADD COLUMN public_id uuid NOT NULL DEFAULT gen_random_uuid();
