-- expect: lock_risk
-- events_legacy is the old unpartitioned table; attaching it scans it under ACCESS EXCLUSIVE.
ALTER TABLE events ATTACH PARTITION events_legacy FOR VALUES FROM ('2000-01-01') TO ('2024-01-01');
