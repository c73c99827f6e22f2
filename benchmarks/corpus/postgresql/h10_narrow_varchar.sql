-- expect: backward_incompatible, lock_risk
-- holdout: labelled before turnout ran on it
ALTER TABLE products ALTER COLUMN sku TYPE varchar(32);
