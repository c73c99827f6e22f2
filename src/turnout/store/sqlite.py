"""SQLite store (stdlib, WAL): the deployment with compare-and-swap, the hash-chained append-only audit
log, operations, and the deploy lock.

Opening checks what it opens: the file is made 0600, its integrity is checked, its schema version must
be one this turnout knows. A damaged, foreign or read-only store is a StateDamaged error (exit 13)
that says what to do, never a traceback. The audit log refuses UPDATE, DELETE and an INSERT that
would replace an entry; each entry carries the hash of the one before (store/chain.py).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import msgspec

from turnout.errors import LockHeld, StaleState, StateDamaged, UsageError
from turnout.events import AuditEvent
from turnout.infra.procs import pid_alive
from turnout.model import ApiToken, Color, Deployment, LockInfo, Operation, TrafficPoint
from turnout.store import chain
from turnout.store.base import TRAFFIC_KEEP

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deployments (
    app TEXT PRIMARY KEY, revision INTEGER NOT NULL, body TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, body TEXT NOT NULL,
    prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_app ON audit (app, id);
CREATE TABLE IF NOT EXISTS operations (
    id TEXT PRIMARY KEY, app TEXT NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS operations_app ON operations (app, updated_at);
CREATE TABLE IF NOT EXISTS locks (
    app TEXT PRIMARY KEY, holder TEXT NOT NULL, since REAL NOT NULL, purpose TEXT NOT NULL, pid INTEGER);
CREATE TABLE IF NOT EXISTS traffic (
    app TEXT NOT NULL, at REAL NOT NULL, color TEXT NOT NULL, seconds REAL NOT NULL, requests INTEGER NOT NULL,
    errors INTEGER NOT NULL, p99 REAL, weight INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS traffic_app_at ON traffic (app, at);
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, created_at REAL NOT NULL,
    created_by TEXT NOT NULL);
"""
TRIGGERS = {
    "audit_no_update": "BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    "audit_no_delete": "BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
    # INSERT OR REPLACE deletes the old row without firing the delete trigger: refuse it here
    "audit_no_replace": "BEFORE INSERT ON audit WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM audit WHERE "
                        "id = NEW.id) BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END",
}
_DEPLOYMENT = msgspec.json.Decoder(Deployment)
_OPERATION = msgspec.json.Decoder(Operation)
RECOVERY = "move it aside and run `turnout recover --from-router`, which rebuilds the state from what runs"


class SqliteStore:
    def __init__(self, path: str | Path, *, pid: int | None = None,
                 alive: Callable[[int | None], bool] = pid_alive) -> None:
        self.path = Path(path)
        self.pid, self.alive = pid or os.getpid(), alive  # who holds a lock we take; is a holder still there
        self.tampered: list[str] = []  # what opening found wrong with the audit log's guards
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            os.close(fd)
            os.chmod(self.path, 0o600)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so CAS is one write transaction.
            self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            self._open()
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc) and "unable to open" not in str(exc):
                raise StateDamaged(f"{self.path} is not a readable turnout state store: {exc}", hint=RECOVERY) from None
            raise StateDamaged(f"cannot open the state store {self.path}: {exc}",
                               hint="the state folder must be writable by you (check state.path and its "
                                    "permissions)") from None
        except sqlite3.DatabaseError as exc:
            raise StateDamaged(f"{self.path} is not a readable turnout state store: {exc}", hint=RECOVERY) from None
        except OSError as exc:
            raise StateDamaged(f"cannot open the state store {self.path}: {exc.strerror or exc}",
                               hint="the state folder must be writable by you (check state.path and its "
                                    "permissions)") from None

    def _open(self) -> None:
        db = self._db
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("integrity check failed")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise StateDamaged(f"{self.path} has no turnout schema version (tables: {', '.join(sorted(tables)[:5])}): "
                               "an older turnout's store, or not turnout's",
                               hint="move it aside; the agent then starts from what the router serves: "
                                    "`turnout recover --from-router`")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise StateDamaged(f"{self.path} has schema version {row[0]}; this turnout knows {SCHEMA_VERSION}",
                               hint="use the turnout that wrote it, or move it aside and `turnout recover "
                                    "--from-router`")
        present = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        audited = db.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
        for name, body in TRIGGERS.items():
            if name not in present:
                if audited:  # the log had entries without its guard: say so, and put the guard back
                    self.tampered.append(f"the audit log's {name} guard had been removed")
                db.execute(f"CREATE TRIGGER {name} {body}")

    # -- the deployment ------------------------------------------------------------------------------
    def load(self, app: str) -> Deployment:
        row = self._db.execute("SELECT revision, body FROM deployments WHERE app = ?", (app,)).fetchone()
        if not row:
            return Deployment(app=app)
        try:
            return replace(_DEPLOYMENT.decode(row[1]), revision=row[0])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise StateDamaged(f"{self.path}: the stored deployment of {app} is unreadable ({exc})",
                               hint=RECOVERY) from None

    def save(self, deployment: Deployment) -> Deployment:
        d = deployment
        with self._write():
            row = self._db.execute("SELECT revision FROM deployments WHERE app = ?", (d.app,)).fetchone()
            current = row[0] if row else 0
            if current != d.revision:
                raise StaleState(f"{d.app}: state changed underneath (revision {current}, expected {d.revision})",
                                 hint="another turnout process wrote it; run `turnout status` and retry")
            self._db.execute(
                "INSERT INTO deployments (app, revision, body, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(app) DO UPDATE SET revision = excluded.revision, body = excluded.body, "
                "updated_at = excluded.updated_at",
                (d.app, current + 1, msgspec.json.encode(d).decode(), time.time()))
        return replace(d, revision=current + 1)

    # -- the audit log -------------------------------------------------------------------------------
    def append(self, event: AuditEvent) -> AuditEvent:
        event = msgspec.structs.replace(event, at=event.at or time.time())
        body = chain.body_of(event)
        with self._write():
            last = self._db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            prev = last[0] if last else chain.GENESIS
            cur = self._db.execute("INSERT INTO audit (app, body, prev_hash, hash) VALUES (?, ?, ?, ?)",
                                   (event.app, body, prev, chain.entry_hash(prev, body)))
        return msgspec.structs.replace(event, id=cur.lastrowid)

    def history(self, app: str, limit: int = 100) -> list[AuditEvent]:
        rows = self._db.execute("SELECT id, body FROM audit WHERE app = ? ORDER BY id DESC LIMIT ?",
                                (app, limit)).fetchall()
        try:
            return [chain.decode(r[0], r[1]) for r in reversed(rows)]
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise StateDamaged(f"{self.path}: an audit entry is unreadable ({exc})",
                               hint="`turnout history --verify` says which") from None

    def verify(self) -> list[str]:
        rows = self._db.execute("SELECT id, app, body, prev_hash, hash FROM audit ORDER BY id").fetchall()
        return self.tampered + chain.verify(chain.Link(*r) for r in rows)

    # -- operations ----------------------------------------------------------------------------------
    def save_operation(self, op: Operation) -> Operation:
        op = _with_time(op)
        with self._write():
            self._db.execute(
                "INSERT INTO operations (id, app, state, body, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET state = excluded.state, body = excluded.body, "
                "updated_at = excluded.updated_at",
                (op.id, op.app, op.state.value, msgspec.json.encode(op).decode(), op.updated_at))
        return op

    def operations(self, app: str, limit: int = 20) -> list[Operation]:
        rows = self._db.execute("SELECT body FROM operations WHERE app = ? ORDER BY updated_at DESC LIMIT ?",
                                (app, limit)).fetchall()
        return [_OPERATION.decode(r[0]) for r in rows]

    # -- traffic points -------------------------------------------------------------------------------
    def record_traffic(self, app: str, points: Sequence[TrafficPoint], keep: float = TRAFFIC_KEEP) -> None:
        with self._write():
            self._db.executemany(
                "INSERT INTO traffic (app, at, color, seconds, requests, errors, p99, weight) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(app, p.at, p.color.value, p.seconds, p.requests, p.errors, p.p99, p.weight) for p in points])
            self._db.execute("DELETE FROM traffic WHERE app = ? AND at < ?", (app, time.time() - keep))

    def traffic(self, app: str, since: float, until: float | None = None) -> list[TrafficPoint]:
        rows = self._db.execute(
            "SELECT at, color, seconds, requests, errors, p99, weight FROM traffic WHERE app = ? AND at >= ? "
            "AND at <= ? ORDER BY at, color", (app, since, until if until is not None else float("inf"))).fetchall()
        return [TrafficPoint(r[0], Color(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    # -- API tokens -----------------------------------------------------------------------------------
    def save_token(self, token: ApiToken) -> None:
        try:
            with self._write():
                self._db.execute("INSERT INTO tokens (name, role, digest, created_at, created_by) "
                                 "VALUES (?, ?, ?, ?, ?)",
                                 (token.name, token.role, token.digest, token.created_at, token.created_by))
        except sqlite3.IntegrityError:
            raise UsageError(f"a token named {token.name!r} exists already",
                             hint=f"`turnout token revoke {token.name}` first, or pick another --name") from None

    def tokens(self) -> list[ApiToken]:
        rows = self._db.execute("SELECT name, role, digest, created_at, created_by FROM tokens ORDER BY name")
        return [ApiToken(*r) for r in rows.fetchall()]

    def revoke_token(self, name: str) -> bool:
        with self._write():
            return self._db.execute("DELETE FROM tokens WHERE name = ?", (name,)).rowcount > 0

    # -- the deploy lock -----------------------------------------------------------------------------
    def acquire_lock(self, app: str, holder: str, purpose: str = "") -> LockInfo:
        """Take the deploy lock; a lock whose holding process has died is taken over."""
        with self._write():
            row = self._db.execute("SELECT holder, since, purpose, pid FROM locks WHERE app = ?", (app,)).fetchone()
            if row and row[0] != holder and self.alive(row[3]):
                since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row[1]))
                raise LockHeld(
                    f"{app}: deploy lock held by {row[0]} since {since}"
                    f" ({row[2] or 'no purpose given'})", hint="wait for it to finish, or check `turnout status`")
            now = time.time()
            self._db.execute("INSERT OR REPLACE INTO locks (app, holder, since, purpose, pid) VALUES (?, ?, ?, ?, ?)",
                             (app, holder, now, purpose, self.pid))
        return LockInfo(holder, now, purpose)

    def release_lock(self, app: str, holder: str) -> None:
        self._db.execute("DELETE FROM locks WHERE app = ? AND holder = ?", (app, holder))

    def lock_info(self, app: str) -> LockInfo | None:
        row = self._db.execute("SELECT holder, since, purpose, pid FROM locks WHERE app = ?", (app,)).fetchone()
        if not row or not self.alive(row[3]):
            return None
        return LockInfo(row[0], row[1], row[2])

    def close(self) -> None:
        self._db.close()

    # -- helpers -------------------------------------------------------------------------------------
    def _write(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK): one write transaction, serialized with other writers."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _with_time(op: Operation) -> Operation:
    now = time.time()
    return replace(op, created_at=op.created_at or now, updated_at=now)
