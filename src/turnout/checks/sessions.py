"""Sessions survive the switch AND the rollback: each color reads what the other one wrote.

Both colors share one session store, so during a switch a session is created by one version and
read by the other, and after a rollback the old version reads sessions the new one touched. Over
the app's own session endpoints:

    live creates A, reads A back         setup: the endpoints exist and read_path is right (else ERROR)
    idle creates B                       ERROR if missing (404/405) or unreachable; FAIL if refused
    idle reads A, idle updates A         forward: the new release reads the old one's sessions
    live reads A, live reads B           rollback: the old release reads what the new one wrote

Endpoints: POST `create_path` with `payload` answers a JSON object with `id`; GET `read_path`
answers the session as a JSON object (its fields under `session` if present, else at the top,
`schemaVersion` beside them); PATCH `read_path` with `update` merges fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self
from urllib.parse import quote

import httpx
from pydantic import field_validator

from turnout.checks.base import Options, Target
from turnout.config import CheckConfig, DriverEnv
from turnout.measure import web
from turnout.measure.http import join
from turnout.model import Measurement, Verdict


class SessionOptions(Options):
    create_path: str = "/session"
    read_path: str = "/session/{id}"
    payload: dict[str, Any] = {"user": "turnout-session-check", "cart": ["sku-1"]}
    update: dict[str, Any] = {"turnoutCheck": "updated"}

    @field_validator("read_path")
    @classmethod
    def _has_id(cls, v: str) -> str:
        if "{id}" not in v:
            raise ValueError("must contain {id}, where the session id goes")
        return v


@dataclass
class Reply:
    status: int
    body: Any
    text: str

    @property
    def fields(self) -> dict[str, Any]:
        if isinstance(self.body, dict):
            inner = self.body.get("session")
            return inner if isinstance(inner, dict) else self.body
        return {}

    @property
    def schema(self) -> Any:
        return self.body.get("schemaVersion", self.fields.get("schemaVersion")) if isinstance(self.body, dict) else None

    def why(self) -> str:
        said = self.body.get("error") if isinstance(self.body, dict) else None
        return f"HTTP {self.status}: {said or self.text[:200] or 'no body'}"


class Broken(Exception):
    """The check cannot measure (endpoint missing, unreachable, live color unusable): ERROR."""


class SessionCompatCheck:
    kind: ClassVar[str] = "sessions"
    Options = SessionOptions

    def __init__(self, name: str = "sessions", *, create_path: str = "/session", read_path: str = "/session/{id}",
                 payload: dict[str, Any] | None = None, update: dict[str, Any] | None = None,
                 timeout_s: float = 5.0, timeout: float = 60.0) -> None:
        self.name, self.create_path, self.read_path, self.timeout_s = name, create_path, read_path, timeout_s
        self.timeout = timeout
        defaults = SessionOptions()
        self.payload = defaults.payload if payload is None else payload
        self.update = defaults.update if update is None else update

    @classmethod
    def from_options(cls, entry: CheckConfig, options: SessionOptions, env: DriverEnv) -> Self:
        o = options
        return cls(entry.label, create_path=o.create_path, read_path=o.read_path, payload=o.payload, update=o.update,
                   timeout_s=min(env.health.timeout * 2.5, entry.timeout), timeout=entry.timeout)

    async def measure(self, target: Target) -> Measurement:
        if not target.baseline_url:
            return Measurement(self.name, Verdict.INCONCLUSIVE, None, "no live color to exchange sessions with")
        live, idle = f"{target.color.other.value} (live)", f"{target.color.value} (idle, {target.release.version})"
        async with web.async_client(timeout=self.timeout_s) as client:
            run = _Run(self, client, target.baseline_url, target.url)
            try:
                await run.steps(live, idle)
            except Broken as exc:
                return Measurement(self.name, Verdict.ERROR, None, str(exc), run.data())
        if run.problems:
            return Measurement(self.name, Verdict.FAIL, len(run.problems), "; ".join(run.problems), run.data())
        w = run.writes
        return Measurement(self.name, Verdict.PASS, 0, f"sessions round-trip both ways: {live} writes schema "
                           f"{w.get('live')}, {idle} writes schema {w.get('idle')}", run.data())


class _Run:
    """One measurement's requests and findings."""

    def __init__(self, check: SessionCompatCheck, client: httpx.AsyncClient, live_url: str, idle_url: str) -> None:
        self.c, self.client, self.urls = check, client, {"live": live_url, "idle": idle_url}
        self.problems: list[str] = []
        self.steps_seen: list[dict[str, Any]] = []
        self.writes: dict[str, Any] = {}  # color -> schemaVersion of the session it created
        self.reads_as: dict[str, Any] = {}  # color -> the schema it reads at (`readAs`), if it says

    async def steps(self, live: str, idle: str) -> None:
        payload, update = self.c.payload, self.c.update
        a, why = await self.create("live", live)
        if a is None:  # the live color is not on trial; without its session there is nothing to measure
            raise Broken(why)
        own = await self.read("live", a, "live reads its own session")
        if own.status != 200:
            raise Broken(f"{live} cannot read back its own session at {self.read_url('live', a)} ({own.why()}): "
                         "check read_path")
        self.writes["live"] = own.schema
        b, why = await self.create("idle", idle)
        if b is None:
            self.problems.append(why)

        forward = await self.read("idle", a, "idle reads live's session")
        self.expect(forward, payload, f"forward: {idle} reading the session {live} created")
        patched = await self.call("PATCH", "idle", self.read_url("idle", a), "idle updates live's session", update)
        if not 200 <= patched.status < 300:
            self.problems.append(f"forward: {idle} cannot update the session {live} created ({patched.why()})")
        back = await self.read("live", a, "live reads the session idle updated")
        expected = {**payload, **update} if 200 <= patched.status < 300 else payload
        self.expect(back, expected, f"rollback: {live} reading the session {idle} updated")
        if b is not None:
            theirs = await self.read("live", b, "live reads idle's session")
            self.writes["idle"] = theirs.schema
            self.expect(theirs, payload, f"rollback: {live} reading the session {idle} created")

    async def create(self, side: str, label: str) -> tuple[str | None, str]:
        """(session id, "") or (None, what went wrong); no endpoint at all cannot be measured."""
        url = join(self.urls[side], self.c.create_path)
        reply = await self.call("POST", side, url, f"{side} creates a session", self.c.payload)
        if reply.status in (404, 405):
            raise Broken(f"{label} has no session endpoint: POST {url} answered {reply.why()} "
                         "(sessions off, or set create_path)")
        ok = 200 <= reply.status < 300 and isinstance(reply.body, dict) and isinstance(reply.body.get("id"), str | int)
        if ok:
            return str(reply.body["id"]), ""
        return None, (f"{label} cannot create a session: POST {url} answered {reply.why()}"
                      + (" (expected a JSON object with `id`)" if reply.status < 300 else ""))

    async def read(self, side: str, session_id: str, step: str) -> Reply:
        reply = await self.call("GET", side, self.read_url(side, session_id), step)
        if isinstance(reply.body, dict) and "readAs" in reply.body:
            self.reads_as[side] = reply.body["readAs"]
        return reply

    def expect(self, reply: Reply, expected: dict[str, Any], what: str) -> None:
        if reply.status != 200:
            hint = " (not found: do both colors use the same session store?)" if reply.status == 404 else ""
            self.problems.append(f"{what}: {reply.why()}{hint}")
            return
        got = reply.fields
        wrong = [f"field {k!r} missing" if k not in got else f"field {k!r} is {got[k]!r}, expected {v!r}"
                 for k, v in expected.items() if got.get(k, _MISSING) != v]
        if wrong:
            self.problems.append(f"{what}: {', '.join(wrong)}")

    def read_url(self, side: str, session_id: str) -> str:
        return join(self.urls[side], self.c.read_path.replace("{id}", quote(session_id, safe="")))

    async def call(self, method: str, side: str, url: str, step: str, body: dict[str, Any] | None = None) -> Reply:
        try:
            resp = await self.client.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise Broken(f"{method} {url} ({side} color) unreachable: {exc or type(exc).__name__}") from None
        try:
            parsed: Any = resp.json()
        except ValueError:
            parsed = None
        reply = Reply(resp.status_code, parsed, resp.text)
        self.steps_seen.append({"step": step, "status": reply.status, "schemaVersion": reply.schema})
        return reply

    def data(self) -> dict[str, Any]:
        versions = {side: {"writes": self.writes.get(side), "reads_as": self.reads_as.get(side)}
                    for side in ("live", "idle")}
        return {"schema_versions": versions, "steps": self.steps_seen}


_MISSING = object()
