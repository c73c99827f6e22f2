"""PostgreSQL store (`[state] url = "postgresql://..."`): the same contract as SQLite, shared by every
operator and CI runner that points at it, so they share one lock and one history.

Compare-and-swap is a row lock and a revision check in one transaction; audit appends are serialized
by a transaction-scoped advisory lock so the hash chain has one order. The deploy lock records the
holder's database session: when a holder dies, its session ends, and the lock is taken over (the
same rule as SQLite's dead pid, across machines).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import msgspec
import psycopg

from turnout.errors import LockHeld, StaleState, StateDamaged, UsageError
from turnout.events import AuditEvent
from turnout.model import ApiToken, Color, Deployment, LockInfo, Operation, TrafficPoint
from turnout.store import chain
from turnout.store.base import TRAFFIC_KEEP

SCHEMA_VERSION = 2
APPEND_LOCK = 0x7475726E  # pg_advisory_xact_lock key serializing audit appends ("turn")
SCHEMA = """
CREATE TABLE IF NOT EXISTS turnout_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS turnout_deployments (
    app TEXT PRIMARY KEY, revision INTEGER NOT NULL, body TEXT NOT NULL, updated_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS turnout_audit (
    id BIGSERIAL PRIMARY KEY, app TEXT NOT NULL, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS turnout_audit_app ON turnout_audit (app, id);
CREATE TABLE IF NOT EXISTS turnout_operations (
    id TEXT PRIMARY KEY, app TEXT NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL);
CREATE TABLE IF NOT EXISTS turnout_traffic (
    app TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, color TEXT NOT NULL, seconds DOUBLE PRECISION NOT NULL,
    requests BIGINT NOT NULL, errors BIGINT NOT NULL, p99 DOUBLE PRECISION, weight INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS turnout_traffic_app_at ON turnout_traffic (app, at);
CREATE TABLE IF NOT EXISTS turnout_tokens (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, digest TEXT NOT NULL UNIQUE, created_at DOUBLE PRECISION NOT NULL,
    created_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS turnout_locks (
    app TEXT PRIMARY KEY, holder TEXT NOT NULL, since DOUBLE PRECISION NOT NULL, purpose TEXT NOT NULL,
    backend_pid INTEGER NOT NULL, backend_start TIMESTAMPTZ NOT NULL, host TEXT NOT NULL);
CREATE OR REPLACE FUNCTION turnout_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'turnout_audit_append_only') THEN
        CREATE TRIGGER turnout_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON turnout_audit
            FOR EACH STATEMENT EXECUTE FUNCTION turnout_append_only();
    END IF;
END $$;
"""
_DEPLOYMENT = msgspec.json.Decoder(Deployment)
_OPERATION = msgspec.json.Decoder(Operation)


class PostgresStore:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self._db = psycopg.connect(url, autocommit=True, connect_timeout=10,
                                       application_name=f"turnout {socket.gethostname()} {os.getpid()}")
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))  # one schema creator
                self._db.execute(SCHEMA)
                row = self._db.execute("SELECT value FROM turnout_meta WHERE key = 'schema_version'").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO turnout_meta VALUES ('schema_version', %s)", (str(SCHEMA_VERSION),))
                elif int(row[0]) != SCHEMA_VERSION:
                    raise StateDamaged(f"the shared state has schema version {row[0]}; this turnout knows "
                                       f"{SCHEMA_VERSION}", hint="use the turnout version that wrote it")
        except psycopg.Error as exc:
            raise StateDamaged(f"cannot use the shared state store at {_redact(url)}: {exc}",
                               hint="check [state] url, that the server is up and the role may create tables") from None
        self.tampered: list[str] = []

    def _q(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            cur = self._db.execute(query.encode(), params)
            return cur.fetchall() if cur.description else []
        except psycopg.OperationalError as exc:
            raise StateDamaged(f"lost the shared state store at {_redact(self.url)}: {exc}") from None

    # -- the deployment ------------------------------------------------------------------------------
    def load(self, app: str) -> Deployment:
        rows = self._q("SELECT revision, body FROM turnout_deployments WHERE app = %s", (app,))
        return replace(_DEPLOYMENT.decode(rows[0][1]), revision=rows[0][0]) if rows else Deployment(app=app)

    def save(self, deployment: Deployment) -> Deployment:
        d = deployment
        with self._db.transaction():
            rows = self._q("SELECT revision FROM turnout_deployments WHERE app = %s FOR UPDATE", (d.app,))
            current = rows[0][0] if rows else 0
            if current != d.revision:
                raise StaleState(f"{d.app}: state changed underneath (revision {current}, expected {d.revision})",
                                 hint="another turnout process wrote it; run `turnout status` and retry")
            self._q("INSERT INTO turnout_deployments (app, revision, body, updated_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (app) DO UPDATE SET revision = excluded.revision, body = excluded.body, "
                    "updated_at = excluded.updated_at",
                    (d.app, current + 1, msgspec.json.encode(d).decode(), time.time()))
        return replace(d, revision=current + 1)

    # -- the audit log -------------------------------------------------------------------------------
    def append(self, event: AuditEvent) -> AuditEvent:
        event = msgspec.structs.replace(event, at=event.at or time.time())
        body = chain.body_of(event)
        with self._db.transaction():
            self._q("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
            last = self._q("SELECT hash FROM turnout_audit ORDER BY id DESC LIMIT 1")
            prev = last[0][0] if last else chain.GENESIS
            [(entry_id,)] = self._q("INSERT INTO turnout_audit (app, body, prev_hash, hash) VALUES (%s, %s, %s, %s) "
                                    "RETURNING id", (event.app, body, prev, chain.entry_hash(prev, body)))
        return msgspec.structs.replace(event, id=entry_id)

    def history(self, app: str, limit: int = 100) -> list[AuditEvent]:
        rows = self._q("SELECT id, body FROM turnout_audit WHERE app = %s ORDER BY id DESC LIMIT %s", (app, limit))
        return [chain.decode(r[0], r[1]) for r in reversed(rows)]

    def verify(self) -> list[str]:
        rows = self._q("SELECT id, app, body, prev_hash, hash FROM turnout_audit ORDER BY id")
        return chain.verify(chain.Link(*r) for r in rows)

    # -- operations ----------------------------------------------------------------------------------
    def save_operation(self, op: Operation) -> Operation:
        now = time.time()
        op = replace(op, created_at=op.created_at or now, updated_at=now)
        self._q("INSERT INTO turnout_operations (id, app, state, body, updated_at) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET state = excluded.state, body = excluded.body, "
                "updated_at = excluded.updated_at",
                (op.id, op.app, op.state.value, msgspec.json.encode(op).decode(), op.updated_at))
        return op

    def operations(self, app: str, limit: int = 20) -> list[Operation]:
        rows = self._q("SELECT body FROM turnout_operations WHERE app = %s ORDER BY updated_at DESC LIMIT %s",
                       (app, limit))
        return [_OPERATION.decode(r[0]) for r in rows]

    # -- traffic points -------------------------------------------------------------------------------
    def record_traffic(self, app: str, points: Sequence[TrafficPoint], keep: float = TRAFFIC_KEEP) -> None:
        for p in points:
            self._q("INSERT INTO turnout_traffic (app, at, color, seconds, requests, errors, p99, weight) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (app, p.at, p.color.value, p.seconds, p.requests, p.errors, p.p99, p.weight))
        self._q("DELETE FROM turnout_traffic WHERE app = %s AND at < %s", (app, time.time() - keep))

    def traffic(self, app: str, since: float, until: float | None = None) -> list[TrafficPoint]:
        rows = self._q("SELECT at, color, seconds, requests, errors, p99, weight FROM turnout_traffic "
                       "WHERE app = %s AND at >= %s AND at <= %s ORDER BY at, color",
                       (app, since, until if until is not None else float("inf")))
        return [TrafficPoint(r[0], Color(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]

    # -- API tokens -----------------------------------------------------------------------------------
    def save_token(self, token: ApiToken) -> None:
        rows = self._q("INSERT INTO turnout_tokens (name, role, digest, created_at, created_by) "
                       "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING name",
                       (token.name, token.role, token.digest, token.created_at, token.created_by))
        if not rows:
            raise UsageError(f"a token named {token.name!r} exists already",
                             hint=f"`turnout token revoke {token.name}` first, or pick another --name")

    def tokens(self) -> list[ApiToken]:
        rows = self._q("SELECT name, role, digest, created_at, created_by FROM turnout_tokens ORDER BY name")
        return [ApiToken(*r) for r in rows]

    def revoke_token(self, name: str) -> bool:
        return bool(self._q("DELETE FROM turnout_tokens WHERE name = %s RETURNING name", (name,)))

    # -- the deploy lock -----------------------------------------------------------------------------
    def acquire_lock(self, app: str, holder: str, purpose: str = "") -> LockInfo:
        """Take the deploy lock; a lock whose holder's database session has ended is taken over."""
        with self._db.transaction():
            rows = self._q("SELECT holder, since, purpose, backend_pid, backend_start, host FROM turnout_locks "
                           "WHERE app = %s FOR UPDATE", (app,))
            if rows and rows[0][0] != holder and self._session_alive(rows[0][3], rows[0][4]):
                h, since, what, _, _, host = rows[0]
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
                raise LockHeld(f"{app}: deploy lock held by {h} on {host} since {when} ({what or 'no purpose given'})",
                               hint="wait for it to finish, or check `turnout status`")
            now = time.time()
            self._q("INSERT INTO turnout_locks SELECT %s, %s, %s, %s, pid, backend_start, %s FROM pg_stat_activity "
                    "WHERE pid = pg_backend_pid() ON CONFLICT (app) DO UPDATE SET holder = excluded.holder, "
                    "since = excluded.since, purpose = excluded.purpose, backend_pid = excluded.backend_pid, "
                    "backend_start = excluded.backend_start, host = excluded.host",
                    (app, holder, now, purpose, socket.gethostname()))
        return LockInfo(holder, now, purpose)

    def _session_alive(self, pid: int, started: Any) -> bool:
        return bool(self._q("SELECT 1 FROM pg_stat_activity WHERE pid = %s AND backend_start = %s", (pid, started)))

    def release_lock(self, app: str, holder: str) -> None:
        self._q("DELETE FROM turnout_locks WHERE app = %s AND holder = %s", (app, holder))

    def lock_info(self, app: str) -> LockInfo | None:
        rows = self._q("SELECT holder, since, purpose, backend_pid, backend_start FROM turnout_locks WHERE app = %s",
                       (app,))
        if not rows or not self._session_alive(rows[0][3], rows[0][4]):
            return None
        return LockInfo(rows[0][0], rows[0][1], rows[0][2])

    def close(self) -> None:
        self._db.close()


def _redact(url: str) -> str:
    """The url without its password, for messages."""
    head, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    cred, _, host = rest.rpartition("@")
    return f"{head}{sep}{cred.split(':', 1)[0]}:***@{host}"
