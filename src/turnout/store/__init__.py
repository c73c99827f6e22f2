"""State, audit log, operations and deploy lock. SQLite is the embedded default; PostgreSQL is shared."""

from turnout.store.sqlite import SqliteStore

__all__ = ["SqliteStore"]
