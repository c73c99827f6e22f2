-- expect: safe
-- holdout: labelled before turnout ran on it
alter table `users` add `two_factor_secret` text null after `email`;
alter table `users` add `two_factor_recovery_codes` text null after `two_factor_secret`;
