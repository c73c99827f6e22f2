"""State stores: the Store contract on SQLite and in memory, plus what only SQLite promises."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from turnout.events import AuditEvent
from turnout.store import SqliteStore
from turnout.store.base import Store
from turnout.testing.contracts import StoreContract
from turnout.testing.fakes import MemoryStore


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Callable[[], Store]:
        return lambda: SqliteStore(tmp_path / "state.db")


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> Callable[[], Store]:
        shared = MemoryStore()
        return lambda: shared


def test_audit_is_append_only(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "state.db").append(AuditEvent(app="shop", action="switch", outcome="ok"))
    raw = sqlite3.connect(tmp_path / "state.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE audit SET outcome = 'failed'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM audit")


def _take_lock_and_die(path: str) -> None:
    SqliteStore(path).acquire_lock("shop", "crashed", "deploy")


def test_lock_of_dead_process_is_taken_over(tmp_path: Path) -> None:
    proc = multiprocessing.get_context("spawn").Process(target=_take_lock_and_die, args=(str(tmp_path / "s.db"),))
    proc.start()
    proc.join(30)
    store = SqliteStore(tmp_path / "s.db")
    assert store.lock_info("shop") is None
    assert store.acquire_lock("shop", "next").holder == "next"


def test_lock_held_says_since_when(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "state.db").acquire_lock("shop", "alice", "deploy 2.0")
    with pytest.raises(Exception, match=r"held by alice since \d{4}-\d\d-\d\d .*deploy 2.0"):
        SqliteStore(tmp_path / "state.db").acquire_lock("shop", "bob", "deploy 3.0")
