-- expect: backward_incompatible, lock_risk
-- holdout: labelled before turnout ran on it
ALTER TABLE orders MODIFY COLUMN status ENUM('new','paid','shipped','refunded') NOT NULL;
