"""The HTTP API and the dashboard, on `[api] listen`: the control API the CLI uses over the agent's
unix socket, for other machines and for people, behind bearer tokens with two roles.

    GET  /                          the dashboard (static files, nothing loaded from elsewhere)
    GET  /api/v1/openapi.json       this API's OpenAPI 3 document (public)
    POST /api/v1/session            a token in the body -> an HttpOnly cookie, for the dashboard
    GET  /api/v1/...                viewer: whoami, status, history, operations, traffic, events (SSE)
    POST /api/v1/<command>          operator: deploy, promote, abort, rollback, switch, approve
    POST /api/v1/alerts/...         operator: Alertmanager's webhook payload, or generic JSON

A token comes as `Authorization: Bearer tok_...` or as the session cookie; a cookie-borne write
must also carry `X-Turnout-Request: 1`, which a cross-site form cannot send (CSRF). Every write is
audited with the token's name as the actor, whatever the body says.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

import msgspec
from aiohttp import web

from turnout.control import api, openapi
from turnout.control.auth import Identity, TokenBook
from turnout.control.recorder import TrafficRecorder
from turnout.errors import TurnoutError, UsageError
from turnout.events import AlertReceived, to_builtins

if TYPE_CHECKING:
    from turnout.control.server import Agent, Feed

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COOKIE = "turnout_session"
IDENTITY = "turnout.identity"  # where the authenticated token's identity rides on a request
OPERATIONS = ("deploy", "promote")  # long: answered 202 with the operation; follow it with GET
WRITES = ("deploy", "promote", "abort", "rollback", "switch", "approve")
STATUS_OF_EXIT = {2: 400, 3: 409, 5: 409, 6: 409, 10: 503, 14: 409, 15: 409, 16: 403}
STATIC = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
SECURITY_HEADERS = {  # the dashboard loads nothing from elsewhere: say so to the browser
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
}


def error(status: int, kind: str, message: str, hint: str = "", exit_code: int = 1) -> web.Response:
    body = api.encode(api.OpError(type=kind, message=message, hint=hint, exit_code=exit_code))
    return web.Response(status=status, body=body, content_type="application/json")


def turnout_error(exc: TurnoutError) -> web.Response:
    return error(STATUS_OF_EXIT.get(exc.exit_code, 409), type(exc).__name__, str(exc), exc.hint, exc.exit_code)


class HttpApi:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.tokens = TokenBook(agent.stack.store)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.headers, self.authenticate, self.single_values],
                              client_max_size=1024 * 1024)
        get, post = app.router.add_get, app.router.add_post
        get("/", self.dashboard)
        get("/static/{name}", self.static)
        get("/api/v1/openapi.json", self.openapi)
        post("/api/v1/session", self.login)
        app.router.add_delete("/api/v1/session", self.logout)
        get("/api/v1/whoami", self.whoami)
        get("/api/v1/status", self.status)
        get("/api/v1/history", self.history)
        get("/api/v1/operations", self.operations)
        get("/api/v1/operations/{id}", self.operation)
        get("/api/v1/traffic", self.traffic)
        get("/api/v1/events", self.events)
        post("/api/v1/alerts/alertmanager", self.alertmanager)
        post("/api/v1/alerts/generic", self.generic_alert)
        for name in WRITES:
            post(f"/api/v1/{name}", self.command)
        return app

    # -- middlewares ----------------------------------------------------------------------------------
    @web.middleware
    async def headers(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            resp: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:  # aiohttp's own 404/405/413: the API's error shape
            if exc.status < 400:
                raise
            resp = error(exc.status, "HTTPError", exc.reason)
            if "Allow" in exc.headers:  # a 405 says what the path takes (RFC 9110)
                resp.headers["Allow"] = exc.headers["Allow"]
        for key, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(key, value)
        return resp

    @web.middleware
    async def authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if not path.startswith("/api/") or path == "/api/v1/openapi.json" or \
                (path == "/api/v1/session" and request.method == "POST"):
            return await handler(request)  # public: the page, its files, the API description, the login
        header = request.headers.get("Authorization", "")
        via_cookie = not header
        # a header that is there but not a bearer token is a failed login, never a fall-back to the cookie
        secret = _bearer(header) if header else request.cookies.get(COOKIE, "")
        who = self.tokens.identify(secret) if secret else None
        if who is None:
            return error(401, "Unauthorized", "a valid bearer token is needed",
                         "create one with `turnout token create --role viewer`")
        if request.match_info.http_exception is not None:
            return await handler(request)  # a path or method the API does not have: its 404/405, not a role's 403
        if request.method not in ("GET", "HEAD"):
            if not who.may_act():
                return error(403, "Forbidden", f"token {who.name!r} is a viewer: it may read, not act",
                             exit_code=16)
            if via_cookie and request.headers.get("X-Turnout-Request") != "1":
                return error(403, "Forbidden", "a write with the session cookie needs the X-Turnout-Request: 1 header",
                             exit_code=16)
        request[IDENTITY] = who
        return await handler(request)

    @web.middleware
    async def single_values(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every query parameter takes one value: `?since=1&since=2` is a mistake, not a choice."""
        repeated = sorted({k for k in request.query if len(request.query.getall(k)) > 1})
        if repeated:
            return error(400, "UsageError", f"query parameter given more than once: {', '.join(repeated)}",
                         exit_code=2)
        return await handler(request)

    # -- dashboard ------------------------------------------------------------------------------------
    async def dashboard(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            return error(404, "NotFound", f"no such file: {name}")
        return self._file(name)

    @staticmethod
    def _file(name: str) -> web.Response:
        body = resources.files("turnout.control.dashboard").joinpath(name).read_bytes()
        return web.Response(body=body, content_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi.document())

    async def login(self, request: web.Request) -> web.Response:
        try:
            secret = str((await request.json())["token"])
        except (ValueError, KeyError, TypeError):
            return error(400, "UsageError", 'expected {"token": "tok_..."}', exit_code=2)
        who = self.tokens.identify(secret)
        if who is None:
            return error(401, "Unauthorized", "unknown token")
        resp = web.json_response({"name": who.name, "role": who.role})
        resp.set_cookie(COOKIE, secret, httponly=True, samesite="Strict", path="/api/",
                        secure=request.secure)
        return resp

    async def logout(self, request: web.Request) -> web.Response:
        resp = web.json_response({"ok": True})
        resp.del_cookie(COOKIE, path="/api/")
        return resp

    # -- reads ----------------------------------------------------------------------------------------
    async def whoami(self, request: web.Request) -> web.Response:
        who = identity(request)
        return web.json_response({"name": who.name, "role": who.role})

    async def status(self, request: web.Request) -> web.Response:
        return _json(await self.agent.status_view())

    async def history(self, request: web.Request) -> web.Response:
        q = request.query
        try:
            limit, since = int(q.get("limit", "100")), _finite(q.get("since", "0"))
        except ValueError:
            return error(400, "UsageError", "limit and since must be numbers", exit_code=2)
        if not 1 <= limit <= 10_000:
            return error(400, "UsageError", f"limit must be 1..10000, got {limit}", exit_code=2)
        events = self.agent.stack.store.history(self.agent.stack.cfg.app.name, 100_000 if _filtered(q) else limit)
        picked = [e for e in events if e.at >= since and _keep(e, q)][-limit:]
        return _json(picked)

    async def operations(self, request: web.Request) -> web.Response:
        store, app = self.agent.stack.store, self.agent.stack.cfg.app.name
        return _json([api.OperationView.of(op) for op in store.operations(app, 100)])

    async def operation(self, request: web.Request) -> web.Response:
        store, app = self.agent.stack.store, self.agent.stack.cfg.app.name
        found = next((op for op in store.operations(app, 1000) if op.id == request.match_info["id"]), None)
        if found is None:
            return error(404, "NotFound", f"no operation {request.match_info['id']}")
        return _json(api.OperationView.of(found))

    async def traffic(self, request: web.Request) -> web.Response:
        try:
            since = _finite(request.query.get("since", str(time.time() - 300)))
        except ValueError:
            return error(400, "UsageError", "since must be a number", exit_code=2)
        return web.json_response(TrafficRecorder.as_json(self.agent.recorder.since(since)))

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: `status` and new `traffic` points every second, `audit` entries as written."""
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        seen_at = time.time() - 300
        last_audit = max((e.id or 0 for e in self._recent_audit(1)), default=0)
        try:
            while not self.agent.stopping.is_set():
                points = self.agent.recorder.since(seen_at)
                if points:
                    seen_at = points[-1].at
                fresh = [e for e in self._recent_audit(50) if (e.id or 0) > last_audit]
                if fresh:
                    last_audit = max(e.id or 0 for e in fresh)
                await resp.write(_sse("status", to_builtins(await self.agent.status_view())))
                await resp.write(_sse("traffic", TrafficRecorder.as_json(points)))
                for event in fresh:
                    await resp.write(_sse("audit", to_builtins(event)))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        async with self.agent.recorder.changed:
                            await self.agent.recorder.changed.wait()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return resp

    def _recent_audit(self, n: int) -> list[Any]:
        return self.agent.stack.store.history(self.agent.stack.cfg.app.name, n)

    # -- writes ---------------------------------------------------------------------------------------
    async def command(self, request: web.Request) -> web.Response:
        name = request.path.rsplit("/", 1)[1]
        who = identity(request)
        try:
            args = api.decode(api.COMMANDS[name], await request.read() or b"{}")
        except UsageError as exc:
            return error(400, "UsageError", str(exc), exit_code=2)
        args = msgspec.structs.replace(args, actor=who.actor)  # the token names who acted, not the body
        from turnout.control.server import Feed

        feed: Feed = Feed()
        try:
            feed = await self.agent.dispatch(args, feed)
        except TurnoutError as exc:
            return turnout_error(exc)
        if name in OPERATIONS:
            accepted = await _first_event(feed, "accepted")
            if accepted is not None:
                return web.json_response({"operation": accepted["operation"], "kind": accepted["kind"]}, status=202)
        return await _outcome(feed)

    async def alertmanager(self, request: web.Request) -> web.Response:
        """Alertmanager's webhook (version 4): {"status", "alerts": [{"status", "labels", "annotations"}]}."""
        try:
            body = await request.json()
            alerts = [_alert(a, "alertmanager") for a in body["alerts"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return error(400, "UsageError", f"not an Alertmanager webhook payload: {exc!r}", exit_code=2)
        return _json(await self.agent.alert(alerts, identity(request).actor))

    async def generic_alert(self, request: web.Request) -> web.Response:
        """{"name": "...", "status": "firing", "labels": {...}, "summary": "..."} or a list of them."""
        try:
            body = await request.json()
            alerts = [_alert(a, "generic") for a in (body if isinstance(body, list) else [body])]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            return error(400, "UsageError", f"expected {{\"name\", \"status\", \"labels\"}}: {exc!r}", exit_code=2)
        return _json(await self.agent.alert(alerts, identity(request).actor))


def identity(request: web.Request) -> Identity:
    who: Identity = request[IDENTITY]
    return who


def _alert(raw: dict[str, Any], source: str) -> AlertReceived:
    labels = {str(k): str(v) for k, v in (raw.get("labels") or {}).items()}
    annotations = raw.get("annotations") or {}
    status = str(raw.get("status", "firing"))
    if status not in ("firing", "resolved"):
        raise ValueError(f"status must be firing or resolved, got {status!r}")
    name = str(raw.get("name") or labels.get("alertname") or "")
    if not name:
        raise KeyError("name (or labels.alertname)")
    summary = str(raw.get("summary") or annotations.get("summary") or annotations.get("description") or "")
    return AlertReceived(name=name, status=status, labels=labels, summary=summary[:500], source=source,
                         received_at=time.time())


def _filtered(q: Any) -> bool:
    return any(q.get(k) for k in ("action", "outcome", "actor", "operation"))


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _keep(event: Any, q: Any) -> bool:
    return all(not q.get(k) or q.get(k) == getattr(event, k) for k in ("action", "outcome")) and \
        (not q.get("actor") or q["actor"].lower() in event.actor.lower()) and \
        (not q.get("operation") or q["operation"] in event.reason)


def _json(value: Any) -> web.Response:
    return web.Response(body=api.encode(value), content_type="application/json")


def _sse(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


async def _first_event(feed: Feed, kind: str) -> dict[str, Any] | None:
    """The first progress event of `kind` (the feed's end, with an error, means none came)."""
    seen = 0
    while True:
        async with feed.changed:
            await feed.changed.wait_for(lambda n=seen: len(feed.frames) > n)  # type: ignore[misc]
        for frame in feed.frames[seen:]:
            if frame.event is not None and to_builtins(frame.event).get("type") == kind:
                found: dict[str, Any] = to_builtins(frame.event)
                return found
            if frame.event is None:
                return None
        seen = len(feed.frames)


async def _outcome(feed: Feed) -> web.Response:
    async with feed.changed:
        await feed.changed.wait_for(lambda: feed.done)
    last = feed.frames[-1]
    if last.error is not None:
        status = 500 if last.error.bug else STATUS_OF_EXIT.get(last.error.exit_code, 409)
        return web.Response(status=status, body=api.encode(last.error), content_type="application/json")
    return _json(last.result)


def _bearer(header: str) -> str:
    """The token of `Authorization: Bearer <token>` (the scheme is case-insensitive, RFC 9110 11.1), or ""."""
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


__all__ = ["HttpApi"]

