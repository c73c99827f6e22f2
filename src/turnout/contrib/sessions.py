"""A versioned session store that both colors share, so a switch and a rollback keep users' sessions.

Apps behind turnout use it; turnout itself does not. Each session is one JSON object in Redis:

    session:<id> = {"schemaVersion": 2, "writtenBy": {"version": "2.0.0", "color": "green", "schema": 2},
                    "user": "ada", "cart": [...], ...}

- Older payloads are upgraded on read, step by step: `migrations[2]` turns a v1 payload into v2,
  `migrations[3]` a v2 into v3. Nothing is written back unless asked (`get(..., write_back=True)`),
  so the old color, still live or rolled back to, never meets a payload it has not seen yet.
- Newer payloads (written by the other color after a switch) are read as they are: fields this code
  does not know are kept and written back untouched on update. Only a payload that lacks a field
  this version `required` is refused, with `IncompatibleSession` naming the field.
- A payload without `schemaVersion` predates versioning and counts as version 1.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import Any, Self

from redis.asyncio import Redis
from redis.exceptions import WatchError

Payload = dict[str, Any]
Migration = Callable[[Payload], Payload]
META = frozenset({"schemaVersion", "writtenBy"})  # the store's own keys in every payload
RETRIES = 50  # optimistic-lock attempts before an update gives up under contention


class SessionError(Exception):
    """Base of the session store's errors."""


class SessionNotFound(SessionError, KeyError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"no session {session_id!r} (expired, deleted, or a different store)")
        self.session_id = session_id

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class IncompatibleSession(SessionError):
    """This code cannot understand the stored session: a required field is missing, a migration
    step is missing or failed, or the payload is not a session at all."""

    def __init__(self, session_id: str, message: str, *, stored_version: int | None = None,
                 missing: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.session_id, self.stored_version, self.missing = session_id, stored_version, missing


@dataclass(frozen=True)
class Session:
    id: str
    data: Payload  # the fields, upgraded to this code's schema when stored older, as stored when newer
    schema_version: int  # the version the payload was stored with
    read_as: int  # this code's schema version
    written_by: dict[str, Any] = field(default_factory=dict)

    @property
    def migrated(self) -> bool:
        return self.schema_version < self.read_as

    @property
    def newer(self) -> bool:
        return self.schema_version > self.read_as


def default_writer() -> dict[str, str]:
    """Who writes: turnout's process runtime sets TURNOUT_VERSION and TURNOUT_COLOR."""
    env = {"version": os.environ.get("TURNOUT_VERSION"), "color": os.environ.get("TURNOUT_COLOR")}
    return {k: v for k, v in env.items() if v}


class SessionStore:
    def __init__(self, redis_url: str, *, schema_version: int, migrations: Mapping[int, Migration] | None = None,
                 required: Iterable[str] = (), ttl: float | timedelta = timedelta(hours=24),
                 prefix: str = "session:", writer: Mapping[str, str] | None = None) -> None:
        if schema_version < 1:
            raise ValueError(f"schema_version must be 1 or more, got {schema_version}")
        migrations = dict(migrations or {})
        if bad := sorted(v for v in migrations if not 2 <= v <= schema_version):
            raise ValueError(f"migrations are keyed by the version they upgrade to, 2..{schema_version}; got {bad}")
        seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
        if seconds < 1:
            raise ValueError("ttl must be at least one second")
        self.schema_version, self.migrations, self.required = schema_version, migrations, tuple(required)
        self.ttl, self.prefix = int(seconds), prefix
        self.writer = {**(default_writer() if writer is None else dict(writer)), "schema": schema_version}
        self.redis: Redis = Redis.from_url(redis_url, decode_responses=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.redis.aclose()

    def key(self, session_id: str) -> str:
        return self.prefix + session_id

    async def create(self, data: Mapping[str, Any]) -> str:
        self._refuse_meta(data)
        if missing := [f for f in self.required if f not in data]:
            raise ValueError(f"a schema {self.schema_version} session needs {', '.join(missing)}")
        session_id = str(uuid.uuid4())
        await self.redis.set(self.key(session_id), self._encode(dict(data), self.schema_version), ex=self.ttl)
        return session_id

    async def get(self, session_id: str, *, write_back: bool = False) -> Session:
        """The session as this code understands it; `write_back` stores an upgraded payload (keeping
        its TTL). Only write back once no color that needs the old schema can be rolled back to."""
        if not write_back:
            raw = await self.redis.get(self.key(session_id))
            if raw is None:
                raise SessionNotFound(session_id)
            doc, stored, by = self._decode(session_id, raw)
            return Session(session_id, self._upgrade(session_id, doc, stored, by), stored, self.schema_version, by)

        def upgrade(doc: Payload, stored: int) -> tuple[Payload, int] | None:
            return (doc, self.schema_version) if stored < self.schema_version else None
        return await self._transact(session_id, upgrade, keep_ttl=True)

    async def update(self, session_id: str, changes: Mapping[str, Any]) -> Session:
        """Merge `changes` into the session's top-level fields; every other field, known or not, is
        kept. The payload keeps the newer of its version and ours: an old writer must not make the
        new color run migrations again over fields it merely did not know about."""
        self._refuse_meta(changes)

        def merge(doc: Payload, stored: int) -> tuple[Payload, int]:
            return {**doc, **changes}, max(stored, self.schema_version)
        return await self._transact(session_id, merge, keep_ttl=False)

    async def delete(self, session_id: str) -> bool:
        deleted: int = await self.redis.delete(self.key(session_id))
        return deleted > 0

    def upgrade(self, session_id: str, raw: str) -> Session:
        """Decode and upgrade a stored payload without touching Redis (for tests of migrations)."""
        doc, stored, by = self._decode(session_id, raw)
        return Session(session_id, self._upgrade(session_id, doc, stored, by), stored, self.schema_version, by)

    # -- internals ------------------------------------------------------------------------------

    async def _transact(self, session_id: str, change: Callable[[Payload, int], tuple[Payload, int] | None],
                        *, keep_ttl: bool) -> Session:
        """Read, change and write one session under WATCH, so the two colors never lose each
        other's concurrent updates."""
        key = self.key(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            for attempt in range(RETRIES):
                try:
                    await pipe.watch(key)
                    raw = await pipe.get(key)  # immediate while watching
                    if raw is None:
                        raise SessionNotFound(session_id)
                    doc, stored, by = self._decode(session_id, raw)
                    doc = self._upgrade(session_id, doc, stored, by)
                    result = change(doc, stored)
                    if result is None:  # nothing to write; leaving the block unwatches
                        return Session(session_id, doc, stored, self.schema_version, by)
                    doc, version = result
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if keep_ttl:
                        pipe.set(key, self._encode(doc, version), keepttl=True)
                    else:
                        pipe.set(key, self._encode(doc, version), ex=self.ttl)
                    await pipe.execute()
                    return Session(session_id, doc, version, self.schema_version, dict(self.writer))
                except WatchError:  # another writer got there first: read again, after a jittered
                    await asyncio.sleep(random.uniform(0, 0.001 * (attempt + 1)))  # pause to break lockstep
        raise SessionError(f"session {session_id!r}: gave up after {RETRIES} concurrent updates")

    def _encode(self, doc: Payload, version: int) -> str:
        return json.dumps({"schemaVersion": version, "writtenBy": self.writer, **doc}, separators=(",", ":"))

    def _decode(self, session_id: str, raw: str | bytes) -> tuple[Payload, int, dict[str, Any]]:
        try:
            doc = json.loads(raw)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise IncompatibleSession(session_id, f"session {session_id!r} is not a JSON object")
        version = doc.pop("schemaVersion", 1)
        by = doc.pop("writtenBy", None)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise IncompatibleSession(session_id, f"session {session_id!r} has schemaVersion {version!r}")
        return doc, version, by if isinstance(by, dict) else {}

    def _upgrade(self, session_id: str, doc: Payload, stored: int, by: Mapping[str, Any]) -> Payload:
        for target in range(stored + 1, self.schema_version + 1):
            step = self.migrations.get(target)
            if step is None:
                raise IncompatibleSession(session_id, f"session {session_id!r} is schema {stored}: no migration "
                                          f"to schema {target}", stored_version=stored)
            try:
                doc = step(doc)
            except Exception as exc:
                raise IncompatibleSession(session_id, f"session {session_id!r}: migration to schema {target} "
                                          f"failed: {exc!r}", stored_version=stored) from exc
        if missing := tuple(f for f in self.required if f not in doc):
            who = "/".join(str(v) for k, v in by.items() if k != "schema") or "unknown writer"
            raise IncompatibleSession(
                session_id, f"session {session_id!r} (schema {stored}, written by {who}) lacks required "
                f"field(s) {', '.join(missing)} of schema {self.schema_version}",
                stored_version=stored, missing=missing)
        return doc

    @staticmethod
    def _refuse_meta(data: Mapping[str, Any]) -> None:
        if clash := sorted(META & set(data)):
            raise ValueError(f"{', '.join(clash)} belong(s) to the session store; use another field name")
