"""An HTTP/1.1 load generator: keep-alive connections on raw asyncio protocols, httptools parsing.

Each of `concurrency` workers owns one connection and sends one request at a time on it. With
`rps` set, requests follow a global schedule (request n is due at start + n/rps) so the rate
holds no matter how many workers there are. Every run is bounded by `duration` and, optionally,
`max_requests`; requests still in flight at the deadline get their own `timeout` to finish.

Failures are counted honestly: a request written to a keep-alive connection that the server then
closed without a single response byte is a lost request (`closed`), not silently retried as Go's
client does. A connection the server closed while idle is simply reopened, which costs nothing.
Latency is measured from the write of the request to the last body byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from turnout.errors import UsageError
from turnout.measure.loadresult import LoadResult

__all__ = ["LoadResult", "Observer", "main_load", "run_load"]  # LoadResult lives in loadresult.py

COLOR_HEADER = b"x-turnout-color"  # the builtin proxy says which color answered
APP_COLOR_HEADER = b"x-app-color"  # the example app says it itself, behind any router
_CONNECT_BACKOFF = 0.01  # unlimited-rate workers pause this long after a failed connect

# observer(at, status, color, error): status 0 and error set when no response came back
Observer = Callable[[float, int, str | None, str | None], None]


class _Outcome:
    __slots__ = ("color", "error", "message", "status")

    def __init__(self, status: int = 0, color: str | None = None, error: str | None = None, message: str = ""):
        self.status, self.color, self.error, self.message = status, color, error, message


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight (HTTP/1.1 without pipelining)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.keep_alive = True
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[_Outcome] | None = None
        self._got_bytes = False
        self._headers_done = False
        self._color: str | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:  # bytes nobody asked for: the stream is out of step, drop it
            self.close()
            return
        self._got_bytes = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._finish(_Outcome(error="protocol", message=f"unparseable response: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None:
            return  # closed while idle: the next request just reconnects
        if not self._got_bytes:
            kind = "reset" if exc else "closed"
            self._finish(_Outcome(error=kind, message=f"connection {kind} before any response byte ({exc or 'EOF'})"))
        else:
            self._finish(_Outcome(error="truncated", message="connection closed mid-response "
                                  "(fewer body bytes than Content-Length, or chunked body not terminated)"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == COLOR_HEADER or (lower == APP_COLOR_HEADER and self._color is None):
            self._color = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self._headers_done = True

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # 1xx interim response: the real one follows
            self._headers_done, self._color = False, None
            return
        self.keep_alive = self._parser.should_keep_alive()
        self._finish(_Outcome(status=status, color=self._color))

    # used by the worker
    async def request(self, payload: bytes, limit: float) -> _Outcome:
        assert self.transport is not None and self._waiter is None
        waiter: asyncio.Future[_Outcome] = self.loop.create_future()
        self._waiter = waiter
        self._got_bytes = self._headers_done = False
        self._color = None
        timer = self.loop.call_later(limit, self._on_timeout, limit)
        self.transport.write(payload)
        try:
            return await waiter
        finally:
            timer.cancel()

    def _on_timeout(self, timeout: float) -> None:
        self._finish(_Outcome(error="timeout", message=f"no complete response within {timeout:g}s"))
        self.close()

    def _finish(self, outcome: _Outcome) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class _Run:
    def __init__(self, url: str, *, concurrency: int, duration: float, rps: float | None,
                 max_requests: int | None, stop: asyncio.Event | None, method: str, body: bytes | None,
                 timeout: float, observer: Observer | None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        if concurrency < 1 or duration <= 0 or (rps is not None and rps <= 0):
            raise ValueError("concurrency must be >= 1, duration and rps > 0")
        self.host = parts.hostname
        self.tls = parts.scheme == "https"
        self.port = parts.port or (443 if self.tls else 80)
        self.method = method.upper()
        self.concurrency, self.duration, self.rps = concurrency, duration, rps
        self.max_requests, self.stop, self.timeout, self.observer = max_requests, stop, timeout, observer
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        head = [f"{self.method} {target} HTTP/1.1", f"Host: {host}", "User-Agent: turnout-load", "Accept: */*"]
        if body is not None or self.method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body or b'')}")
        self.payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
        self.result = LoadResult(url=url)
        self.issued = 0
        self.halt = asyncio.Event()

    @property
    def halted(self) -> bool:
        return self.halt.is_set()

    async def run(self) -> LoadResult:
        loop = asyncio.get_running_loop()
        self.result.started = time.time()
        self.t0 = loop.time()
        self.deadline = self.t0 + self.duration
        workers = [asyncio.ensure_future(self._worker(loop)) for _ in range(self.concurrency)]
        watchers: list[asyncio.Future[Any]] = [asyncio.ensure_future(asyncio.sleep(self.duration))]
        if self.stop is not None:
            watchers.append(asyncio.ensure_future(self.stop.wait()))
        all_done = asyncio.gather(*workers)
        try:
            await asyncio.wait([all_done, *watchers], return_when=asyncio.FIRST_COMPLETED)
            self.halt.set()  # workers finish the request in flight (bounded by timeout), then leave
            await all_done
        finally:
            all_done.cancel()  # first: a gather whose workers are cancelled one by one logs it, unasked
            for task in (*workers, *watchers):
                task.cancel()
            self.result.ended = time.time()
        return self.result

    def _next_due(self, now: float) -> float | None:
        """When this worker may send its next request, or None when the run is over."""
        if self.halted or now >= self.deadline:
            return None
        if self.max_requests is not None and self.issued >= self.max_requests:
            return None
        due = now if self.rps is None else self.t0 + self.issued / self.rps
        if due >= self.deadline:
            return None
        self.issued += 1
        return due

    async def _worker(self, loop: asyncio.AbstractEventLoop) -> None:
        conn: _Connection | None = None
        try:
            while (due := self._next_due(loop.time())) is not None:
                if (wait := due - loop.time()) > 0:  # woken early by a stop or the deadline
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self.halt.wait()
                if self.halted:
                    return
                if conn is None or conn.closed:
                    conn = await self._connect(loop)
                    if conn is None:
                        if self.rps is None:
                            await asyncio.sleep(_CONNECT_BACKOFF)
                        continue
                started = time.perf_counter()  # not loop.time(): uvloop's clock ticks in whole ms
                outcome = await conn.request(self.payload, self.timeout)
                self._record(outcome, time.perf_counter() - started)
                if not conn.keep_alive or self.method == "HEAD":  # HEAD: httptools would wait for a body
                    conn.close()
        finally:
            if conn is not None:
                conn.close()

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection | None:
        conn = _Connection(loop)
        try:
            async with asyncio.timeout(self.timeout):
                await loop.create_connection(lambda: conn, self.host, self.port, ssl=self.tls or None)
        except (OSError, TimeoutError) as exc:
            if isinstance(exc, OSError) and exc.errno:
                message = os.strerror(exc.errno)  # "Connection refused", not asyncio's "Connect call failed"
            else:
                message = str(exc) or f"timed out after {self.timeout:g}s"
            self._record(_Outcome(error="connect", message=f"{self.host}:{self.port}: {message}"), 0.0)
            return None
        return conn

    def _record(self, outcome: _Outcome, latency: float) -> None:
        if outcome.error is not None:
            self.result._record_error(outcome.error, outcome.message)
        else:
            self.result._record_response(outcome.status, outcome.color, latency)
        if self.observer is not None:
            self.observer(time.time(), outcome.status, outcome.color, outcome.error)


async def run_load(url: str, *, concurrency: int, duration: float, rps: float | None = None,
                   max_requests: int | None = None, stop: asyncio.Event | None = None, method: str = "GET",
                   body: bytes | None = None, timeout: float = 10.0,  # noqa: ASYNC109 - per request, not the run
                   observer: Observer | None = None) -> LoadResult:
    """Send load to `url` until `duration` seconds pass, `max_requests` are sent or `stop` is set.

    `timeout` bounds each request (connect, then write to last body byte). `observer(at, status,
    color, error)` is called for every request as it completes, for callers that need a timeline.
    """
    run = _Run(url, concurrency=concurrency, duration=duration, rps=rps, max_requests=max_requests, stop=stop,
               method=method, body=body, timeout=timeout, observer=observer)
    return await run.run()


def _runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def main_load(url: str, rps: float | None, duration: float, concurrency: int, json_out: bool) -> int:
    """`turnout load`: print a summary (or JSON); exit 0 when every request succeeded, else 1.
    Raises UsageError for a bad URL, concurrency or duration."""
    try:
        with _runner() as runner:
            result = runner.run(run_load(url, concurrency=concurrency, duration=duration, rps=rps or None))
    except ValueError as exc:  # bad URL or bounds: the CLI prints one line, not a traceback
        raise UsageError(str(exc)) from None
    if json_out:
        json.dump(result.as_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(result.summary())
    return 0 if result.failed == 0 and result.requests > 0 else 1
