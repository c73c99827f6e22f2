-- expect: safe
-- holdout: labelled before turnout ran on it
CREATE OR REPLACE VIEW active_users AS
    SELECT id, email, full_name FROM users WHERE status = 'active';
