-- expect: safe
-- holdout: labelled before turnout ran on it
ALTER TABLE users DROP INDEX idx_login, ADD UNIQUE INDEX uq_login (login);
