"""Adapters below every driver: processes (liveness, reaping, ports), files (atomic writes, tails,
private socket paths) and the Kubernetes client both Kubernetes drivers share."""
