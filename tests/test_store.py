"""SQLite store: compare-and-swap, append-only audit, deploy lock."""

from __future__ import annotations

import multiprocessing
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from turnout.errors import LockHeld, StaleState
from turnout.events import AuditEvent, Checked
from turnout.model import Color, Measurement, Phase, Verdict, Weights
from turnout.store import SqliteStore


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "state.db")


def test_new_app_starts_initial_on_blue(store: SqliteStore) -> None:
    d = store.load("shop")
    assert (d.phase, d.active, d.revision) == (Phase.INITIAL, Color.BLUE, 0)


def test_compare_and_swap(store: SqliteStore) -> None:
    d = store.load("shop")
    saved = store.save(replace(d, phase=Phase.DEPLOY, versions={Color.BLUE: "1", Color.GREEN: "2"}))
    assert saved.revision == 1
    again = store.load("shop")
    assert again.phase is Phase.DEPLOY and again.versions[Color.GREEN] == "2"
    with pytest.raises(StaleState, match="revision 1, expected 0"):
        store.save(replace(d, phase=Phase.ABORTED))  # written from an old read
    assert store.load("shop").phase is Phase.DEPLOY


def test_roundtrip_all_fields(store: SqliteStore) -> None:
    d = replace(store.load("a"), active=Color.GREEN, weights=Weights(25, 75), target=Color.BLUE, switched_at=12.5,
                warm={Color.BLUE: True, Color.GREEN: True})
    store.save(d)
    got = store.load("a")
    assert (got.active, got.weights, got.target, got.switched_at, got.warm[Color.BLUE]) == (
        Color.GREEN, Weights(25, 75), Color.BLUE, 12.5, True)


def test_audit_is_append_only(store: SqliteStore, tmp_path: Path) -> None:
    checked = Checked(measurement=Measurement("x", Verdict.PASS, 1))
    e = store.append(AuditEvent(app="shop", action="switch", outcome="ok", actor="me", from_color=Color.BLUE,
                                to_color=Color.GREEN, evidence=(checked,)))
    assert e.id == 1 and e.at > 0
    hist = store.history("shop")
    assert hist[0].to_color is Color.GREEN and hist[0].measurements() == [Measurement("x", Verdict.PASS, 1)]
    raw = sqlite3.connect(tmp_path / "state.db")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE audit SET outcome = 'failed'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM audit")


def test_lock_held_says_who_and_since(store: SqliteStore, tmp_path: Path) -> None:
    store.acquire_lock("shop", "alice", "deploy 2.0")
    info = store.lock_info("shop")
    assert info is not None and info.holder == "alice"
    other = SqliteStore(tmp_path / "state.db")
    with pytest.raises(LockHeld, match=r"held by alice since \d{4}-\d\d-\d\d .*deploy 2.0"):
        other.acquire_lock("shop", "bob", "deploy 3.0")
    store.release_lock("shop", "alice")
    other.acquire_lock("shop", "bob")
    assert store.lock_info("shop").holder == "bob"  # type: ignore[union-attr]


def _take_lock_and_die(path: str) -> None:
    SqliteStore(path).acquire_lock("shop", "crashed", "deploy")


def test_lock_of_dead_process_is_taken_over(tmp_path: Path) -> None:
    proc = multiprocessing.get_context("spawn").Process(target=_take_lock_and_die, args=(str(tmp_path / "s.db"),))
    proc.start()
    proc.join(30)
    store = SqliteStore(tmp_path / "s.db")
    assert store.lock_info("shop") is None
    assert store.acquire_lock("shop", "next").holder == "next"
