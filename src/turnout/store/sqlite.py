"""SQLite store (stdlib, WAL): current deployment with compare-and-swap, append-only audit, deploy lock."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import msgspec

from turnout.errors import LockHeld, StaleState
from turnout.events import AuditEvent, Evidence
from turnout.infra.procs import pid_alive
from turnout.model import Color, Deployment, LockInfo, Phase, Weights

SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
    app TEXT PRIMARY KEY, revision INTEGER NOT NULL, body TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, app TEXT NOT NULL, at REAL NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, outcome TEXT NOT NULL, from_color TEXT, to_color TEXT, phase TEXT,
    versions TEXT NOT NULL, reason TEXT NOT NULL, evidence TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_app ON audit (app, id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS locks (
    app TEXT PRIMARY KEY, holder TEXT NOT NULL, since REAL NOT NULL, purpose TEXT NOT NULL, pid INTEGER);
"""


_EVIDENCE = msgspec.json.Decoder(tuple[Evidence, ...])


def _encode(d: Deployment) -> str:
    return json.dumps({
        "active": d.active.value, "phase": d.phase.value,
        "versions": {c.value: v for c, v in d.versions.items()},
        "weights": d.weights.as_dict(), "target": d.target.value if d.target else None,
        "switched_at": d.switched_at, "warm": {c.value: w for c, w in d.warm.items()},
    })


def _decode(app: str, revision: int, body: str) -> Deployment:
    raw = json.loads(body)
    return Deployment(
        app=app, revision=revision, active=Color(raw["active"]), phase=Phase(raw["phase"]),
        versions={Color(c): v for c, v in raw["versions"].items()},
        weights=Weights(**raw["weights"]), target=Color(raw["target"]) if raw.get("target") else None,
        switched_at=raw.get("switched_at"), warm={Color(c): bool(w) for c, w in raw.get("warm", {}).items()},
    )


class SqliteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves so CAS is one write transaction.
        self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def load(self, app: str) -> Deployment:
        row = self._db.execute("SELECT revision, body FROM deployments WHERE app = ?", (app,)).fetchone()
        return _decode(app, row[0], row[1]) if row else Deployment(app=app)

    def save(self, deployment: Deployment) -> Deployment:
        d = deployment
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT revision FROM deployments WHERE app = ?", (d.app,)).fetchone()
            current = row[0] if row else 0
            if current != d.revision:
                raise StaleState(f"{d.app}: state changed underneath (revision {current}, expected {d.revision})",
                                 hint="another turnout process wrote it; run `turnout status` and retry")
            self._db.execute(
                "INSERT INTO deployments (app, revision, body, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(app) DO UPDATE SET revision = excluded.revision, body = excluded.body, "
                "updated_at = excluded.updated_at",
                (d.app, current + 1, _encode(d), time.time()))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return Deployment(**{**d.__dict__, "revision": current + 1})

    def append(self, event: AuditEvent) -> AuditEvent:
        e = event
        at = e.at or time.time()
        cur = self._db.execute(
            "INSERT INTO audit (app, at, actor, action, outcome, from_color, to_color, phase, versions, reason, "
            "evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (e.app, at, e.actor, e.action, e.outcome, e.from_color.value if e.from_color else None,
             e.to_color.value if e.to_color else None, e.phase.value if e.phase else None,
             json.dumps(e.versions), e.reason, msgspec.json.encode(e.evidence).decode()))
        return msgspec.structs.replace(e, id=cur.lastrowid, at=at)

    def history(self, app: str, limit: int = 100) -> list[AuditEvent]:
        rows = self._db.execute(
            "SELECT id, at, actor, action, outcome, from_color, to_color, phase, versions, reason, evidence "
            "FROM audit WHERE app = ? ORDER BY id DESC LIMIT ?", (app, limit)).fetchall()
        return [
            AuditEvent(id=r[0], at=r[1], app=app, actor=r[2], action=r[3], outcome=r[4],
                       from_color=Color(r[5]) if r[5] else None, to_color=Color(r[6]) if r[6] else None,
                       phase=Phase(r[7]) if r[7] else None, versions=json.loads(r[8]), reason=r[9],
                       evidence=_EVIDENCE.decode(r[10]))
            for r in reversed(rows)
        ]

    def acquire_lock(self, app: str, holder: str, purpose: str = "") -> LockInfo:
        """Take the deploy lock; a lock whose holding process has died is taken over."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT holder, since, purpose, pid FROM locks WHERE app = ?", (app,)).fetchone()
            if row and row[0] != holder and pid_alive(row[3]):
                since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row[1]))
                raise LockHeld(
                    f"{app}: deploy lock held by {row[0]} since {since}"
                    f" ({row[2] or 'no purpose given'})", hint="wait for it to finish, or check `turnout status`")
            now = time.time()
            self._db.execute("INSERT OR REPLACE INTO locks (app, holder, since, purpose, pid) VALUES (?, ?, ?, ?, ?)",
                             (app, holder, now, purpose, os.getpid()))
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return LockInfo(holder, now, purpose)

    def release_lock(self, app: str, holder: str) -> None:
        self._db.execute("DELETE FROM locks WHERE app = ? AND holder = ?", (app, holder))

    def lock_info(self, app: str) -> LockInfo | None:
        row = self._db.execute("SELECT holder, since, purpose, pid FROM locks WHERE app = ?", (app,)).fetchone()
        if not row or not pid_alive(row[3]):
            return None
        return LockInfo(row[0], row[1], row[2])

    def close(self) -> None:
        self._db.close()
