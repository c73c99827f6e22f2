-- expect: safe
-- holdout: labelled before turnout ran on it
CREATE UNIQUE INDEX CONCURRENTLY users_email_active_uidx ON users (lower(email)) WHERE status = 'active';
DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;
