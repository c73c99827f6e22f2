-- expect: lock_risk
ALTER TABLE users ADD COLUMN referral_code text UNIQUE;
