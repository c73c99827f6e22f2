"""The embedded default runtime: local processes (runtime), spawning (procs), on-disk records (records)."""
