"""Coverage-guided fuzzing (atheris) of the builtin proxy's request and response framing, in process.

    pip install atheris
    python benchmarks/fuzz_framing.py -max_total_time=660 -timeout=10 [-jobs=1] [corpus_dir]

Each input drives the real `ClientProtocol` and `UpstreamConn` code over fake transports (no sockets, so
hundreds of thousands of inputs a minute): client A sends fuzzed request bytes (pieces of any size, or one of
a few valid requests), its upstream answers with fuzzed bytes (then a clean close, a reset, or nothing), then
client B sends a plain request and, if it lands on the connection A used, that connection answers B honestly.
Checked on every input:

- no exception escapes a protocol callback (asyncio would log it and drop the connection: a crash here);
- no answer to the wrong client: B gets exactly B's answer or an error the proxy made itself, never a byte of
  A's upstream stream, and A never sees B's marker;
- no hang: after every timeout has passed (the clock is advanced and the sweeper run), nothing is in flight;
  every connection is closed or idle, and the in-flight gauges are back to 0.

libFuzzer's -timeout catches a real hang (an input that does not return).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import atheris  # type: ignore[import-untyped]

with atheris.instrument_imports():
    from turnout.proxy import app, downstream, upstream
    from turnout.proxy.downstream import BUSY, ClientProtocol
    from turnout.proxy.exchange import REASONS, Ctx
    from turnout.proxy.metrics import Metrics
    from turnout.proxy.state import Router
    from turnout.proxy.upstream import UpstreamConn

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser, HttpResponseParser

B_BODY = b"B-marker-7f3a"
B_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(B_BODY), B_BODY)
VALID = [b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
         b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
         b"PUT /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
         b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
         b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"]
_QUIET, _ = socket.socketpair()  # a real, always empty socket: FIONREAD on pooled connections says "clean"


class FakeSock:
    def fileno(self) -> int:
        return _QUIET.fileno()

    def setsockopt(self, *args: Any) -> None:
        pass


class FakeTransport(asyncio.Transport):
    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self.protocol = protocol
        self.out = bytearray()
        self.closed = self.reset = self.eof = False
        self.paused = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.9", 1234), "socket": FakeSock()}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            return
        self.out += data

    def write_eof(self) -> None:
        self.eof = True

    def can_write_eof(self) -> bool:
        return True

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            LOST.append(self)

    def abort(self) -> None:
        self.reset = True
        self.close()

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def is_reading(self) -> bool:
        return not self.paused

    def get_write_buffer_size(self) -> int:
        return 0


LOST: list[FakeTransport] = []  # closed transports whose protocol still has to hear connection_lost


class FakeLoop:
    """Just what the data plane calls: a clock, new upstream connections (made at once), no timers."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.upstreams: list[tuple[UpstreamConn, FakeTransport]] = []

    def time(self) -> float:
        return self.t

    def call_later(self, *args: Any) -> None:
        return None

    def create_task(self, coro: Coroutine[Any, Any, None]) -> None:
        try:
            coro.send(None)
        except StopIteration:
            return
        raise AssertionError("a coroutine suspended under the fake loop")


async def fake_open(ctx: Ctx, ex: Any, b: Any, data: bytes) -> None:
    conn = UpstreamConn(ctx, b)
    t = FakeTransport(conn)
    conn.connection_made(t)
    ctx.loop.upstreams.append((conn, t))  # type: ignore[attr-defined]
    if ex.aborted:
        conn.close()
        return
    conn.attach(ex, False, data)


upstream._open = fake_open


def settle() -> None:
    """Deliver connection_lost for every transport closed so far, as the loop would (soon, not inline)."""
    while LOST:
        t = LOST.pop(0)
        t.protocol.connection_lost(ConnectionResetError() if t.reset else None)


def guard(fn: Callable[..., None], *args: Any) -> None:
    fn(*args)  # any exception here is a callback that would crash in asyncio: let atheris report it
    settle()


def new_ctx() -> Ctx:
    loop = FakeLoop()
    router = Router()
    router.apply((100, 0), {"blue": ["127.0.0.1:1"], "green": ["127.0.0.1:2"]})
    ctx = Ctx(loop, router, Metrics(), header_timeout=5, idle_timeout=20, body_timeout=5,  # type: ignore[arg-type]
              write_timeout=5, upstream_timeout=10, fd_budget=1000)
    return ctx


def client(ctx: Ctx) -> tuple[ClientProtocol, FakeTransport]:
    c = ClientProtocol(ctx, 0)
    t = FakeTransport(c)
    c.connection_made(t)
    return c, t


def responses(raw: bytes) -> list[tuple[int, bool, bytes]]:
    """What a client received: (status, made or forwarded by the proxy, body) per complete response. Every head
    the proxy forwards carries its color header, and the ones it makes itself (rejects) have a known body: a head
    with neither is upstream bytes that slipped past a response's framing."""
    got: list[tuple[int, bool, bytes]] = []

    class P:
        body = b""
        ours = False

        def on_header(self, name: bytes, value: bytes) -> None:
            if name.lower() == b"x-turnout-color":
                self.ours = True

        def on_body(self, b: bytes) -> None:
            self.body += b

        def on_message_complete(self) -> None:
            st = parser.get_status_code()
            if st >= 200:
                ours = self.ours or self.body.rstrip(b"\n") in REJECTS
                got.append((st, ours, self.body))
            self.body = b""
            self.ours = False

    p = P()
    parser = HttpResponseParser(p)
    with contextlib.suppress(HttpParserError, HttpParserUpgrade):  # the rest is a tunnel, or cut short
        parser.feed_data(raw)
    return got


REJECTS = {*REASONS.values(), BUSY.rpartition(b"\r\n\r\n")[2].rstrip(b"\n")}


def requests(raw: bytes) -> int:
    """How many requests llhttp finds in what a client sent (the most answers it may get, plus one reject)."""
    n = [0]

    class P:
        def on_message_complete(self) -> None:
            n[0] += 1

    with contextlib.suppress(HttpParserError, HttpParserUpgrade):
        HttpRequestParser(P()).feed_data(raw)
    return n[0]


HEADERS = [b"Content-Length: %d", b"Content-Length: %b", b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip",
           b"Transfer-Encoding: gzip, chunked", b"Connection: close", b"Connection: keep-alive", b"X-A: %b",
           b"Connection: close, X-A", b" folded", b"%b", b"Content-Length: 1, 1", b"Keep-Alive: timeout=5",
           b"Upgrade: websocket", b"Connection: Upgrade", b"Expect: 100-continue", b"Host: h"]


def message(fdp: atheris.FuzzedDataProvider, request: bool) -> bytes:
    """A structured HTTP/1.x message with fuzzed parts (raw mutation alone rarely gets past a status line)."""
    if request:
        first = b"%b %b %b" % (fdp.PickValueInList([b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS"]),
                               fdp.PickValueInList([b"/", b"/x?y=1", b"*", b"http://h/p", b"http://u@h", b"ftp://h"]),
                               fdp.PickValueInList([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.1", b"HTTP/2.0"]))
    else:
        code = fdp.PickValueInList([100, 101, 200, 200, 204, 304, 404, 500, fdp.ConsumeIntInRange(0, 999)])
        first = b"%b %d OK" % (fdp.PickValueInList([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0", b"HTTP/9"]), code)
    lines = [first]
    for _ in range(fdp.ConsumeIntInRange(0, 5)):
        h = fdp.PickValueInList(HEADERS)
        if b"%d" in h:
            h = h % fdp.ConsumeIntInRange(0, 300)
        elif b"%b" in h:
            h = h % fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 12))
        lines.append(h)
    out = b"\r\n".join(lines) + b"\r\n\r\n"
    for _ in range(fdp.ConsumeIntInRange(0, 4)):  # body: chunks, raw bytes, a last chunk with trailers
        kind = fdp.ConsumeIntInRange(0, 3)
        if kind == 0:
            piece = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 40))
            out += b"%x\r\n%b\r\n" % (len(piece), piece)
        elif kind == 1:
            out += fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 60))
        elif kind == 2:
            out += b"0\r\n" + fdp.PickValueInList([b"", b"T: 1\r\n"]) + b"\r\n"
        else:
            out += b"%x%b\r\n" % (fdp.ConsumeIntInRange(0, 1 << 20), fdp.PickValueInList([b"", b";e=1", b" ", b"x"]))
    return out


def pieces(fdp: atheris.FuzzedDataProvider, data: bytes) -> list[bytes]:
    out = []
    while data:
        k = fdp.ConsumeIntInRange(1, len(data))
        out.append(data[:k])
        data = data[k:]
    return out


def one(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    ctx = new_ctx()
    loop: FakeLoop = ctx.loop  # type: ignore[assignment]
    a, ta = client(ctx)
    kind = fdp.ConsumeIntInRange(0, 2)
    req = (VALID[fdp.ConsumeIntInRange(0, len(VALID) - 1)] if kind == 0 else message(fdp, True) if kind == 1
           else fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 600)))
    if fdp.ConsumeBool():
        req += message(fdp, True)  # pipelined
    for piece in pieces(fdp, req):
        guard(a.data_received, piece)
    answer = b"".join(message(fdp, False) for _ in range(fdp.ConsumeIntInRange(0, 3)))  # one answer, or more
    if fdp.ConsumeBool():
        answer += fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 200))
    for piece in pieces(fdp, answer):
        if not loop.upstreams:
            break
        conn, t = loop.upstreams[-1]
        if t.closed:
            break
        guard(conn.data_received, piece)
    end = fdp.ConsumeIntInRange(0, 2)  # then: nothing, a clean close, a reset
    if end and loop.upstreams and not loop.upstreams[-1][1].closed:
        conn, t = loop.upstreams[-1]
        t.closed = True
        guard(conn.connection_lost, None if end == 1 else ConnectionResetError())

    # client B, after A's exchange: it may get the pooled connection A used
    b, tb = client(ctx)
    guard(b.data_received, b"GET /b HTTP/1.1\r\nHost: b\r\n\r\n")
    ex = b.active
    if ex is not None and ex.conn is not None:
        conn = ex.conn
        guard(conn.data_received, B_ANSWER)
    got = responses(bytes(tb.out))
    assert len(got) == 1, (got, tb.out)
    status, ours, body = got[0]
    if status == 200:
        assert body == B_BODY, (body, tb.out)
    else:  # only an error the proxy made itself (502 for a pooled connection that went bad is one)
        assert status in (502, 503, 504) and ours and B_BODY not in body, got
    assert B_BODY not in ta.out, ta.out
    a_got = responses(bytes(ta.out))
    assert all(ours for _, ours, _ in a_got), (a_got, ta.out)  # nothing past a response's framing
    assert len(a_got) <= requests(req) + 1, (a_got, req)

    # no hang: past every timeout, nothing is left in flight
    for _ in range(3):
        loop.t += 30
        ctx.now = loop.t
        app.sweep(ctx)
        settle()
    for c, t in ((a, ta), (b, tb)):
        assert t.closed or c.state == downstream.TUNNEL, (c.state, c.active, c.queue)  # tunnels have no timeout
        if not t.closed:
            t.closed = True
            c.connection_lost(None)
    settle()
    for conn, t in loop.upstreams:
        if not t.closed:
            t.closed = True
            conn.connection_lost(None)
    settle()
    inflight = ctx.metrics.inflight()
    assert inflight == {"blue": 0, "green": 0}, inflight
    assert not ctx.clients, ctx.clients


def main() -> None:
    downstream.LINGER_SECONDS = 2.0
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
