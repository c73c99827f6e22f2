"""State, audit log and deploy lock. SQLite is the embedded default."""

from turnout.store.sqlite import SqliteStore, pid_alive

__all__ = ["SqliteStore", "pid_alive"]
