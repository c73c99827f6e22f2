-- expect: safe
-- holdout: labelled before turnout ran on it
ALTER TABLE page_views ADD COLUMN received_at timestamp(3) DEFAULT CURRENT_TIMESTAMP(3);
