-- expect: lock_risk
-- holdout: labelled before turnout ran on it
CREATE TABLE IF NOT EXISTS billing.payments (
    id bigserial PRIMARY KEY,
    amount_cents integer NOT NULL,
    paid_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE billing.invoices ADD COLUMN IF NOT EXISTS payment_id bigint REFERENCES billing.payments (id);
