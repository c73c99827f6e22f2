"""A small HTTP service to deploy with turnout: health, version, metrics, and switchable faults.

    python examples/app.py --port 8000 --version 1.2.0 [--color blue] [--host 127.0.0.1]

Faults can also ride in the version string, so one `runtime.command` serves every demo:
`2.0.0+slow` (300 ms latency), `+broken` (never ready), `+fail-after-N` (after N seconds every
request to the app answers 500 while health stays OK), `+fail-after-requests-N` (the same after N
app requests per instance), `+lie` (/version reports another version).
Sessions (`--session-redis URL`): `+sessions-v2` writes session schema 2 (adds a field),
`+sessions-breaking` renames a required field without expand/contract (the old color cannot read it).
Probes and scrapes (/health/*, /metrics, /version, /admin/*) are never faulted nor counted.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import random
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.web_log import AccessLogger
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric

if TYPE_CHECKING:
    from turnout.contrib.sessions import Payload, Session, SessionStore

log = logging.getLogger("example")
UNFAULTED = ("/health/", "/metrics", "/version", "/admin/")
WINDOW = 60.0  # seconds of requests behind the quantile summary


@dataclass
class Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    fail_at: float | None = None  # monotonic time after which error_rate applies; None: always
    broken: bool = False
    report_version: str | None = None
    fail_after_requests: int | None = None  # error_rate applies once this many requests were served
    served: int = 0

    def error_now(self) -> bool:
        self.served += 1
        if self.fail_at is not None and time.monotonic() < self.fail_at:
            return False
        if self.fail_after_requests is not None and self.served <= self.fail_after_requests:
            return False
        return self.error_rate > 0 and random.random() < self.error_rate


@dataclass(frozen=True)
class SessionSchema:
    """The example's sessions. v1: {user, createdAt, ...what the client sent}; v2 adds lastSeenAt,
    which v1 ignores and keeps (compatible). `breaking` stores `user` as `userId` in one step, no
    expand/contract: it reads v1 sessions (its migration renames) but v1 cannot read what it writes."""

    version: int = 1
    breaking: bool = False

    @property
    def user_field(self) -> str:
        return "userId" if self.breaking else "user"

    @property
    def required(self) -> tuple[str, ...]:
        return (self.user_field, "createdAt", *(("lastSeenAt",) if self.version >= 2 else ()))

    def migrations(self) -> dict[int, Callable[[Payload], Payload]]:
        def to_v2(doc: Payload) -> Payload:
            doc.setdefault("lastSeenAt", doc.get("createdAt"))
            if self.breaking and "user" in doc:
                doc["userId"] = doc.pop("user")
            return doc
        return {2: to_v2} if self.version >= 2 else {}

    def to_store(self, fields: dict[str, Any]) -> Payload:
        """The HTTP API always says `user`; only the breaking release stores it under another name."""
        if self.breaking and "user" in fields:
            fields = {**fields, "userId": fields["user"]}
            del fields["user"]
        return fields

    def to_api(self, doc: Payload) -> Payload:
        if self.breaking and "userId" in doc:
            doc = {**doc, "user": doc["userId"]}
            del doc["userId"]
        return doc


@dataclass
class State:
    version: str
    color: str | None
    instance: str
    faults: Faults
    flags: dict[str, Any]
    ready_at: float
    stopping: bool = False
    session_url: str | None = None  # Redis shared by both colors; no session endpoints without it
    session_schema: SessionSchema = field(default_factory=SessionSchema)


class LatencyWindow:
    """Request durations of the last WINDOW seconds, exposed as a summary with quantile labels.

    Prometheus forbids a histogram and a summary under one name, so the quantiles get their own
    name; it still contains `http_request_duration_seconds`, which is what dashboards grep for.
    """

    name = "http_request_duration_seconds_window"

    def __init__(self) -> None:
        self._samples: deque[tuple[float, float]] = deque(maxlen=20_000)

    def observe(self, seconds: float) -> None:
        self._samples.append((time.monotonic(), seconds))

    def collect(self) -> Iterator[Metric]:
        cutoff = time.monotonic() - WINDOW
        while self._samples and self._samples[0][0] < cutoff:
            self._samples.popleft()
        values = sorted(v for _, v in self._samples)
        metric = Metric(self.name, f"Request duration quantiles over the last {WINDOW:.0f}s", "summary")
        for q in (0.5, 0.9, 0.99):
            # Nearest rank; NaN when nothing was served, as Prometheus summaries do.
            value = values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")
            metric.add_sample(self.name, {"quantile": str(q)}, value)
        metric.add_sample(self.name + "_count", {}, float(len(values)))
        metric.add_sample(self.name + "_sum", {}, sum(values))
        yield metric


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created series are noise here
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "HTTP requests", ["method", "path", "status"],
                                registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "HTTP request duration", ["method", "path"],
                                  registry=self.registry)
        self.window = LatencyWindow()
        self.registry.register(self.window)

    def record(self, method: str, path: str, status: int, seconds: float) -> None:
        self.requests.labels(method, path, str(status)).inc()
        self.duration.labels(method, path).observe(seconds)
        self.window.observe(seconds)


STATE = web.AppKey("state", State)
METRICS = web.AppKey("metrics", Metrics)
SESSIONS: web.AppKey[SessionStore] = web.AppKey("sessions")  # typed without importing redis
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def faults_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(UNFAULTED):
        return await handler(request)
    state, started = request.app[STATE], time.perf_counter()
    route = request.match_info.route.resource
    path = route.canonical if route is not None else "other"  # bounded label cardinality
    status = 500
    try:
        if state.faults.latency_ms:
            await asyncio.sleep(state.faults.latency_ms / 1000)
        if state.faults.error_now():
            response: web.StreamResponse = web.json_response({"error": "injected fault"}, status=500)
        else:
            response = await handler(request)
        if state.color:  # who answered, also behind routers that do not say (the builtin proxy does)
            response.headers["X-App-Color"] = state.color
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[METRICS].record(request.method, path, status, time.perf_counter() - started)


async def index(request: web.Request) -> web.Response:
    s = request.app[STATE]
    return web.json_response({"version": s.version, "color": s.color, "instance": s.instance})


async def version(request: web.Request) -> web.Response:
    s = request.app[STATE]
    return web.json_response({"version": s.faults.report_version or s.version})


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "live"})


async def ready(request: web.Request) -> web.Response:
    s = request.app[STATE]
    reason = ("broken release" if s.faults.broken else "shutting down" if s.stopping
              else "starting" if time.monotonic() < s.ready_at else "")
    if reason:
        return web.json_response({"status": "unavailable", "reason": reason}, status=503)
    return web.json_response({"status": "ready"})


async def dependencies(request: web.Request) -> web.Response:
    url = os.environ.get("DATABASE_URL")
    db = await check_database(url) if url else {"status": "healthy", "detail": "no database configured"}
    return web.json_response({"database": db}, status=200 if db["status"] == "healthy" else 503)


async def check_database(url: str) -> dict[str, str]:
    import psycopg  # only when a database is configured: it is slow to import

    started = time.perf_counter()
    try:
        conn = await asyncio.wait_for(psycopg.AsyncConnection.connect(url, connect_timeout=2), 3)
        async with conn:
            await conn.execute("SELECT 1")
    except (OSError, TimeoutError, psycopg.Error) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return {"status": "unhealthy", "detail": detail}
    return {"status": "healthy", "detail": f"SELECT 1 in {(time.perf_counter() - started) * 1000:.0f} ms"}


async def feature_flags(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].flags)


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def slow(request: web.Request) -> web.StreamResponse:
    """Stream a body over `ms` milliseconds: a request that is still in flight during a switch."""
    try:
        ms = int(request.query.get("ms", "3000"))
    except ValueError:
        raise web.HTTPBadRequest(text="ms must be an integer") from None
    if not 0 <= ms <= 600_000:
        raise web.HTTPBadRequest(text="ms must be between 0 and 600000")
    chunks = max(1, ms // 100)
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    for i in range(chunks):
        await response.write(f"chunk {i + 1}/{chunks}\n".encode())
        await asyncio.sleep(ms / 1000 / chunks)
    await response.write(b"done\n")
    await response.write_eof()
    return response


async def echo(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": request.headers.get("Content-Type", "application/octet-stream")})
    await response.prepare(request)
    async for chunk in request.content.iter_chunked(64 * 1024):
        await response.write(chunk)
    await response.write_eof()
    return response


ADMIN_TOKEN_ENV = "EXAMPLE_ADMIN_TOKEN"


def admin_allowed(request: web.Request) -> bool:
    """Faults are for tests and demos: off unless EXAMPLE_ADMIN_TOKEN is set, and then only with
    `Authorization: Bearer <that token>` (the app sits behind a public production listener)."""
    token = os.environ.get(ADMIN_TOKEN_ENV, "")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(given.encode(), token.encode())


async def admin_fault(request: web.Request) -> web.Response:
    """Change faults at run time: {"error_rate": 1.0, "latency_ms": 0, "broken": false, "fail_after": 5}."""
    if not admin_allowed(request):
        raise web.HTTPForbidden(text=f"fault injection is off: set {ADMIN_TOKEN_ENV} and send it as a bearer token\n")
    faults = request.app[STATE].faults
    try:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("expected a JSON object")
        if "latency_ms" in body:
            faults.latency_ms = max(0.0, float(body["latency_ms"]))
        if "error_rate" in body:
            faults.error_rate, faults.fail_at = min(1.0, max(0.0, float(body["error_rate"]))), None
        if "fail_after" in body:
            after = body["fail_after"]
            faults.fail_at = None if after is None else time.monotonic() + float(after)
            faults.error_rate = faults.error_rate or 1.0
        if "broken" in body:
            faults.broken = bool(body["broken"])
        if "report_version" in body:
            faults.report_version = body["report_version"]
    except (ValueError, TypeError) as exc:
        raise web.HTTPBadRequest(text=f"bad fault: {exc}") from None
    log.warning("faults changed: %s", faults)
    return web.json_response({"latency_ms": faults.latency_ms, "error_rate": faults.error_rate,
                              "broken": faults.broken, "report_version": faults.report_version})


# -- sessions: POST /session, GET and PATCH /session/{id}, in the Redis both colors share ----------

def session_errors(handler: Handler) -> Handler:
    """A session this release cannot understand is 409 (with the missing fields); Redis down is 503."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        from redis.exceptions import RedisError

        from turnout.contrib.sessions import IncompatibleSession, SessionNotFound

        try:
            return await handler(request)
        except SessionNotFound as exc:
            return web.json_response({"error": str(exc)}, status=404)
        except IncompatibleSession as exc:
            return web.json_response({"error": str(exc), "missing": list(exc.missing), "schemaVersion":
                                      exc.stored_version, "readAs": request.app[STATE].session_schema.version},
                                     status=409)
        except (RedisError, OSError) as exc:
            return web.json_response({"error": f"session store unavailable: {exc}"}, status=503)
    return wrapped


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    if clash := sorted({"schemaVersion", "writtenBy", "createdAt", "lastSeenAt", "userId"} & set(body)):
        raise web.HTTPBadRequest(text=f"{', '.join(clash)} are set by the app")
    return body


def session_view(session: Session, schema: SessionSchema) -> web.Response:
    return web.json_response({
        "id": session.id, "schemaVersion": session.schema_version, "readAs": session.read_as,
        "writtenBy": session.written_by, "migrated": session.migrated, "session": schema.to_api(session.data)})


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@session_errors
async def session_create(request: web.Request) -> web.StreamResponse:
    schema, body = request.app[STATE].session_schema, await json_object(request)
    if not isinstance(body.get("user"), str):
        raise web.HTTPBadRequest(text="a session needs a string `user`")
    now = now_iso()
    fields = {**schema.to_store(body), "createdAt": now, **({"lastSeenAt": now} if schema.version >= 2 else {})}
    session_id = await request.app[SESSIONS].create(fields)
    return web.json_response({"id": session_id, "schemaVersion": schema.version}, status=201)


@session_errors
async def session_read(request: web.Request) -> web.StreamResponse:
    session = await request.app[SESSIONS].get(request.match_info["id"])
    return session_view(session, request.app[STATE].session_schema)


@session_errors
async def session_update(request: web.Request) -> web.StreamResponse:
    schema, body = request.app[STATE].session_schema, await json_object(request)
    changes = {**schema.to_store(body), **({"lastSeenAt": now_iso()} if schema.version >= 2 else {})}
    session = await request.app[SESSIONS].update(request.match_info["id"], changes)
    return session_view(session, schema)


def add_sessions(app: web.Application, state: State, url: str) -> None:
    from turnout.contrib.sessions import SessionStore  # only with sessions on: redis is an optional dependency

    schema = state.session_schema
    writer = {"version": state.version, **({"color": state.color} if state.color else {})}
    app[SESSIONS] = SessionStore(url, schema_version=schema.version, migrations=schema.migrations(),
                                 required=schema.required, writer=writer)

    async def close(app: web.Application) -> None:
        await app[SESSIONS].aclose()
    app.on_cleanup.append(close)
    app.router.add_post("/session", session_create)
    app.router.add_get("/session/{id}", session_read)
    app.router.add_patch("/session/{id}", session_update)


def build_app(state: State) -> web.Application:
    app = web.Application(middlewares=[faults_and_metrics])
    app[STATE], app[METRICS] = state, Metrics()
    app.router.add_get("/", index)
    app.router.add_get("/version", version)
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
    app.router.add_get("/health/dependencies", dependencies)
    app.router.add_get("/debug/feature-flags", feature_flags)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/slow", slow)
    app.router.add_post("/echo", echo)
    app.router.add_post("/admin/fault", admin_fault)
    if state.session_url:
        add_sessions(app, state, state.session_url)
    return app


def faults_from(opts: argparse.Namespace, started: float) -> Faults:
    tags = set(opts.version.split("+")[1:])
    faults = Faults(latency_ms=opts.latency_ms, error_rate=opts.error_rate, broken=opts.broken,
                    report_version=opts.report_version)
    if "slow" in tags:
        faults.latency_ms = max(faults.latency_ms, 300.0)
    if "broken" in tags:
        faults.broken = True
    if "lie" in tags and faults.report_version is None:
        faults.report_version = "0.0.0-stale"
    after = opts.fail_after
    for tag in tags:
        if m := re.fullmatch(r"fail-after-(\d+(?:\.\d+)?)", tag):
            after = float(m.group(1))
        elif m := re.fullmatch(r"fail-after-requests-(\d+)", tag):
            # a release that passes validation and breaks under real traffic, after the switch
            faults.fail_after_requests, faults.error_rate = int(m.group(1)), faults.error_rate or 1.0
    if after is not None:
        faults.fail_at, faults.error_rate = started + after, faults.error_rate or 1.0
    return faults


def session_schema_from(opts: argparse.Namespace) -> SessionSchema:
    tags = set(opts.version.split("+")[1:])
    breaking = "sessions-breaking" in tags
    tagged = [int(m.group(1)) for t in tags if (m := re.fullmatch(r"sessions-v(\d+)", t))]
    version = opts.session_schema or max(tagged, default=2 if breaking else 1)
    if version not in (1, 2) or (breaking and version < 2):
        raise ValueError(f"session schema {version} (breaking={breaking}): the example knows 1 and 2")
    return SessionSchema(version, breaking)


class QuietAccessLogger(AccessLogger):
    """Access log without the probes, which would otherwise drown the instance's log."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not request.path.startswith(("/health/", "/metrics")):
            super().log(request, response, time)


async def serve(opts: argparse.Namespace, state: State) -> int:
    runner = web.AppRunner(build_app(state), access_log_class=QuietAccessLogger, shutdown_timeout=opts.grace)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # before listening: no window where TERM skips the drain
        loop.add_signal_handler(sig, stop.set)
    try:
        await web.TCPSite(runner, opts.host, opts.port).start()
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", opts.host, opts.port, exc.strerror or exc)
        await runner.cleanup()
        return 1
    port = runner.addresses[0][1]
    print(f"listening on http://{opts.host}:{port} version={state.version} color={state.color} "
          f"instance={state.instance} pid={os.getpid()}", flush=True)
    await stop.wait()
    # Stop accepting, then let in-flight requests (a long /slow included) finish within the grace.
    log.info("signal received: draining in-flight requests (grace %.0fs)", opts.grace)
    state.stopping = True
    await runner.cleanup()
    log.info("stopped")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description="turnout example app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=int(env.get("PORT", "8000")), help="0 picks a free port")
    p.add_argument("--version", default=env.get("TURNOUT_VERSION", "0.0.0-dev"))
    p.add_argument("--color", default=env.get("TURNOUT_COLOR"))
    p.add_argument("--instance", default=env.get("TURNOUT_INSTANCE", "0"))
    p.add_argument("--ready-delay", type=float, default=0.0, help="seconds before readiness turns OK")
    p.add_argument("--grace", type=float, default=30.0, help="seconds in-flight requests get on SIGTERM")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--error-rate", type=float, default=0.0, help="share of requests answered with 500")
    p.add_argument("--fail-after", type=float, default=None,
                   help="seconds after which --error-rate (default 100%%) applies; health stays OK")
    p.add_argument("--broken", action="store_true", help="readiness never turns OK")
    p.add_argument("--report-version", default=None, help="version /version claims")
    p.add_argument("--session-redis", default=env.get("SESSION_REDIS_URL"),
                   help="Redis URL both colors share; turns on /session endpoints")
    p.add_argument("--session-schema", type=int, default=None,
                   help="session schema to write (1 or 2); default: from a +sessions-vN tag, else 1")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        flags = json.loads(os.environ.get("FEATURE_FLAGS") or "{}")
        if not isinstance(flags, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        log.error("FEATURE_FLAGS must be a JSON object: %s", exc)
        return 2
    try:
        schema = session_schema_from(opts)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    started = time.monotonic()
    state = State(version=opts.version, color=opts.color, instance=opts.instance,
                  faults=faults_from(opts, started), flags=flags, ready_at=started + opts.ready_delay,
                  session_url=opts.session_redis, session_schema=schema)
    return asyncio.run(serve(opts, state))


if __name__ == "__main__":
    sys.exit(main())
