-- expect: safe
-- One batch of the login backfill; the runner script repeats it with the next id range.
UPDATE users SET login = lower(email) WHERE id BETWEEN 1 AND 5000 AND login IS NULL;
