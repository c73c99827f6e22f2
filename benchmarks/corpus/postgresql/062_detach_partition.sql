-- expect: lock_risk
ALTER TABLE events DETACH PARTITION events_2024;
