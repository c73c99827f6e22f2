"""State, audit log and deploy lock. SQLite is the embedded default."""

from turnout.store.sqlite import SqliteStore

__all__ = ["SqliteStore"]
