"""State stores: the Store contract on SQLite and in memory, plus what only SQLite promises."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sqlite3
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from turnout.errors import LockHeld, StateDamaged
from turnout.events import AuditEvent
from turnout.store import SqliteStore
from turnout.store.base import Store
from turnout.store.postgres import PostgresStore
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


def _entries(store: SqliteStore, n: int = 3) -> None:
    for i in range(n):
        store.append(AuditEvent(app="shop", action="switch", outcome="ok", reason=f"switch {i}"))


def test_audit_is_append_only(tmp_path: Path) -> None:
    _entries(SqliteStore(tmp_path / "state.db"))
    raw = sqlite3.connect(tmp_path / "state.db")
    for statement in ("UPDATE audit SET body = '{}'", "DELETE FROM audit",
                      "INSERT OR REPLACE INTO audit (id, app, body, prev_hash, hash) VALUES (1, 'shop', '{}', '', '')"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute(statement)
    assert SqliteStore(tmp_path / "state.db").verify() == []


def test_a_rewritten_audit_log_is_caught_by_its_hash_chain(tmp_path: Path) -> None:
    _entries(SqliteStore(tmp_path / "state.db"))
    raw = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    raw.execute("DROP TRIGGER audit_no_update")  # what someone who wants to rewrite history does first
    raw.execute("UPDATE audit SET body = replace(body, 'switch 1', 'nothing happened') WHERE id = 2")
    raw.execute("DROP TRIGGER audit_no_delete")
    raw.execute("DELETE FROM audit WHERE id = 3")
    raw.close()
    store = SqliteStore(tmp_path / "state.db")  # puts the guards back, and says they were gone
    problems = store.verify()
    assert any("audit_no_update guard had been removed" in p for p in problems)
    assert any(p.startswith("entry 2: its content was changed") for p in problems)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        sqlite3.connect(tmp_path / "state.db").execute("DELETE FROM audit")


def test_the_state_file_is_private(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "state.db")
    assert stat.S_IMODE((tmp_path / "state.db").stat().st_mode) == 0o600


@pytest.mark.parametrize(("damage", "message"), [
    (lambda p: p.write_bytes(b"not a database at all, just bytes" * 100), "is not a readable turnout state store"),
    (lambda p: p.write_bytes(p.read_bytes()[:2000]), "is not a readable turnout state store"),
])
def test_a_damaged_state_file_is_a_clear_error(tmp_path: Path, damage: Callable[[Path], object], message: str) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    _entries(store, 50)
    store.close()
    for extra in ("-wal", "-shm"):
        (tmp_path / f"state.db{extra}").unlink(missing_ok=True)
    damage(path)
    with pytest.raises(StateDamaged, match=message) as err:
        SqliteStore(path)
    assert err.value.exit_code == 13 and "recover --from-router" in err.value.hint


@contextlib.contextmanager
def read_only_folder(tmp_path: Path, *, with_store: bool) -> Iterator[Path]:
    """A folder turnout cannot write to: a read-only tmpfs as root (root ignores permission bits),
    else a folder without write permission."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        if with_store:
            _entries(SqliteStore(folder / "state.db"))
        folder.chmod(0o500)
        try:
            yield folder
        finally:
            folder.chmod(0o700)
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)], check=True)
    try:
        if with_store:
            store = SqliteStore(folder / "state.db")
            _entries(store)
            store.close()
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("with_store", [False, True])
def test_a_read_only_state_folder_is_a_clear_error(tmp_path: Path, with_store: bool) -> None:
    with read_only_folder(tmp_path, with_store=with_store) as folder, pytest.raises(StateDamaged) as err:
        SqliteStore(folder / "state.db")
    assert err.value.exit_code == 13
    assert "cannot open the state store" in str(err.value) and "writable" in err.value.hint


def test_a_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "state.db")
    raw = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    raw.close()
    with pytest.raises(StateDamaged, match="schema version 99"):
        SqliteStore(tmp_path / "state.db")


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


class TestPostgresStore(StoreContract):
    """The shared store, on a real PostgreSQL the tests start: every handle is its own connection."""

    @pytest.fixture
    def store(self, database: str) -> Iterator[Callable[[], Store]]:
        opened: list[PostgresStore] = []

        def make() -> Store:
            opened.append(PostgresStore(database))
            return opened[-1]

        yield make
        for s in opened:
            s.close()


def test_postgres_lock_of_a_dead_session_is_taken_over(database: str) -> None:
    holder, other = PostgresStore(database), PostgresStore(database)
    holder.acquire_lock("shop", "alice", "deploy 2.0")
    with pytest.raises(LockHeld, match="alice"):
        other.acquire_lock("shop", "bob")
    holder.close()  # the holder's process died: its database session ended with it
    assert other.lock_info("shop") is None
    assert other.acquire_lock("shop", "bob").holder == "bob"


def test_postgres_audit_is_append_only_and_chained(database: str) -> None:
    store = PostgresStore(database)
    for i in range(3):
        store.append(AuditEvent(app="shop", action="switch", outcome="ok", reason=f"switch {i}"))
    assert store.verify() == []
    import psycopg

    with psycopg.connect(database, autocommit=True) as raw:
        for statement in ("UPDATE turnout_audit SET body = '{}'", "DELETE FROM turnout_audit",
                          "TRUNCATE turnout_audit"):
            with pytest.raises(psycopg.Error, match="append-only"):
                raw.execute(statement.encode())
        raw.execute(b"ALTER TABLE turnout_audit DISABLE TRIGGER turnout_audit_append_only")
        raw.execute(b"UPDATE turnout_audit SET body = replace(body, 'switch 1', 'quiet') WHERE id = 2")
    assert any(p.startswith("entry 2: its content was changed") for p in store.verify())
