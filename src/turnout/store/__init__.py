"""State, audit log and deploy lock. SQLite is the embedded default."""

from turnout.infra.procs import pid_alive
from turnout.store.sqlite import SqliteStore

__all__ = ["SqliteStore", "pid_alive"]
