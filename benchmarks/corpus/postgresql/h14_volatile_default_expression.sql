-- expect: lock_risk
-- holdout: labelled before turnout ran on it
ALTER TABLE sessions ADD COLUMN nonce text DEFAULT md5(random()::text);
