"""HAProxy: the Runtime API over the stats socket (runtime_api), files mirrored for a reload (driver)."""
