"""A small HTTP/1.1 app for the check tests, run as a real process: `python fakeapp.py --port 0`.

Raw asyncio + httptools so it can misbehave on purpose (truncated bodies, silent closes) which a
framework would not let it do. Faults switch at run time with `POST /admin/fault` (JSON body):
  {"latency_ms": 50, "error_rate": 0.5, "down": true, "deps": {"database": "unhealthy"},
   "flags": {"new_checkout": false}}
Prints `listening on PORT` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from typing import Any, cast

import httptools
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry()
REQUESTS = Counter("http_requests_total", "requests", ["status"], registry=REGISTRY)
DURATION = Histogram("http_request_duration_seconds", "latency", registry=REGISTRY,
                     buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))


class State:
    version = "v1"
    color: str | None = None
    latency_ms = 0.0
    error_rate = 0.0
    down = False
    deps: dict[str, str] = {"database": "healthy", "cache": "healthy"}
    flags: dict[str, Any] = {"new_checkout": True, "dark_mode": False}


def response(status: int, body: bytes = b"", ctype: str = "text/plain", extra: str = "") -> bytes:
    color = f"x-turnout-color: {State.color}\r\n" if State.color else ""
    head = (f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{color}{extra}\r\n")
    return head.encode() + body


def jsonr(status: int, obj: Any) -> bytes:
    return response(status, json.dumps(obj).encode(), "application/json")


class Handler(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body = b""
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue()
        self.task = asyncio.get_running_loop().create_task(self.serve())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.task.cancel()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode()
        self.queue.put_nowait((method, self.url.decode(), self.body))
        self.url, self.body = b"", b""

    async def serve(self) -> None:  # one at a time: responses keep request order
        while True:
            method, url, body = await self.queue.get()
            await self.handle(method, url, body)

    async def handle(self, method: str, url: str, body: bytes) -> None:
        assert self.transport is not None
        t = self.transport
        parsed = httptools.parse_url(url.encode())
        path = parsed.path.decode()
        query = (parsed.query or b"").decode()
        start = time.perf_counter()
        if path == "/truncated":  # promises 100 bytes, sends 10, closes
            t.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
            t.close()
            return
        if path == "/chunked-truncated":  # chunked body without the terminating 0-chunk
            t.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            t.close()
            return
        if path == "/close-silently":
            t.close()
            return
        if path == "/idle-close":  # answers with keep-alive, then closes the idle connection shortly after
            t.write(response(200, b"ok"))
            asyncio.get_running_loop().call_later(0.02, t.close)
            return
        if path == "/conn-close":
            t.write(response(200, b"ok", extra="Connection: close\r\n"))
            t.close()
            return
        if method == "POST" and path == "/admin/fault":
            fault = json.loads(body or b"{}")
            for key in ("latency_ms", "error_rate", "down", "deps", "flags"):
                if key in fault:
                    setattr(State, key, fault[key])
            t.write(jsonr(200, {"ok": True}))
            return
        if path == "/metrics":
            t.write(response(200, generate_latest(REGISTRY), "text/plain; version=0.0.4"))
            return
        if path == "/health/ready":
            t.write(response(503 if State.down else 200, b"down" if State.down else b"ready"))
            return
        if path == "/version":
            t.write(jsonr(200, {"version": State.version}))
            return
        if path == "/version.txt":  # plain text, as many apps' version files
            t.write(response(200, f"{State.version}\n".encode()))
            return
        if path == "/actuator/info":  # Spring Boot's shape: the version is nested
            t.write(jsonr(200, {"build": {"version": State.version, "name": "fake"}}))
            return
        if path == "/health/dependencies":
            code = 200 if all(v == "healthy" for v in State.deps.values()) else 503  # as examples/app.py
            t.write(jsonr(code, {k: {"status": v} for k, v in State.deps.items()}))
            return
        if path == "/debug/feature-flags":
            t.write(jsonr(200, State.flags))
            return
        if path.startswith("/status/"):
            t.write(response(int(path.rsplit("/", 1)[1])))
            return
        delay = State.latency_ms / 1000
        if path == "/slow":
            delay = float(query.partition("=")[2] or 100) / 1000
        if delay:
            await asyncio.sleep(delay)
        status = 503 if State.down or (State.error_rate and random.random() < State.error_rate) else 200
        REQUESTS.labels(status=str(status)).inc()
        DURATION.observe(time.perf_counter() - start)
        t.write(response(status, b"ok" if status == 200 else b"fail"))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--version", default="v1")
    ap.add_argument("--color", default=None)
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--error-rate", type=float, default=0.0)
    args = ap.parse_args()
    State.version, State.color = args.version, args.color
    State.latency_ms, State.error_rate = args.latency_ms, args.error_rate
    server = await asyncio.get_running_loop().create_server(Handler, "127.0.0.1", args.port)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on {port}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(main())
