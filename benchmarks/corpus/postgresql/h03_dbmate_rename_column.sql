-- expect: backward_incompatible
-- holdout: labelled before turnout ran on it
-- migrate:up
ALTER TABLE users RENAME COLUMN phone TO phone_number;

-- migrate:down
ALTER TABLE users RENAME COLUMN phone_number TO phone;
