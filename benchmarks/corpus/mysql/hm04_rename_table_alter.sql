-- expect: backward_incompatible
-- holdout: labelled before turnout ran on it
ALTER TABLE sessions RENAME TO user_sessions;
