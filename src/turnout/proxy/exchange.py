"""Per-request state and the byte-level helpers both sides of the proxy share."""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

from turnout.proxy.metrics import Metrics, Stats
from turnout.proxy.state import Backend, ColorSet, Router

if TYPE_CHECKING:
    from turnout.proxy.downstream import ClientProtocol
    from turnout.proxy.upstream import UpstreamConn

PENDING_MAX = 256 * 1024  # request body buffered while connecting upstream before we stop reading
REPLAY_MAX = 64 * 1024  # request bytes kept for sending again (a dead pooled connection or instance)
# Hop-by-hop response headers, matched on the lowered head; Transfer-Encoding stays (chunks pass through raw).
_HOP = re.compile(rb"\r\n(connection|keep-alive|proxy-connection|proxy-authenticate|te|trailer|upgrade)[ \t]*:"
                  rb"([^\r\n]*)")
_CONN_TOKENS = frozenset((b"close", b"keep-alive", b""))
REASONS = {400: b"Bad Request", 405: b"Method Not Allowed", 408: b"Request Timeout",
           431: b"Request Header Fields Too Large", 502: b"Bad Gateway", 503: b"Service Unavailable",
           504: b"Gateway Timeout", 505: b"HTTP Version Not Supported"}
# Safe to send again to another instance when that one died before answering (RFC 9110 §9.2.2).
IDEMPOTENT = frozenset((b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"))


class Ctx:
    """Everything a connection needs from its process; `now` is a coarse clock updated by the sweeper."""

    def __init__(self, loop: asyncio.AbstractEventLoop, router: Router, metrics: Metrics, *,
                 header_timeout: float = 10.0, idle_timeout: float = 60.0, connect_timeout: float = 3.0,
                 upstream_timeout: float = 60.0, body_timeout: float = 10.0, body_min_rate: float = 512.0,
                 write_timeout: float = 60.0, max_connections: int = 0, fd_budget: int = 1 << 30) -> None:
        self.loop = loop
        self.router = router
        self.metrics = metrics
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.upstream_timeout = upstream_timeout  # upstream silence: before its response head, or within its body
        self.body_timeout = body_timeout  # request body: most seconds without progress
        # each body byte buys this many seconds (up to body_timeout): a trickle runs out of time
        self.body_credit = 1.0 / body_min_rate if body_min_rate > 0 else float("inf")
        self.write_timeout = write_timeout  # a client that reads nothing of its answer for this long is dropped
        self.max_connections = max_connections or 1 << 30  # per listener
        self.fd_budget = fd_budget  # client + upstream connections this process may hold
        self.conns = [0, 0]  # client connections per listener
        self.upstreams = 0  # upstream connections, open or being opened
        self.lingering = 0  # connections refused for capacity, still sending their answer
        self.now = loop.time()
        self.clients: dict[ClientProtocol, None] = {}  # oldest first: the order idle ones are evicted in
        self.draining = False
        self.drained = asyncio.Event()  # set when draining and the last client connection is gone


class Exchange:
    __slots__ = ("aborted", "chunked", "client", "complete", "conn", "cs", "discard", "drop", "expect", "finished",
                 "hdrs", "head", "host", "http10", "idempotent", "keep_alive", "method", "pending", "pending_size",
                 "responded", "retried", "sent", "sent_size", "size", "stats", "t0", "t_sent", "te", "tried", "upgrade",
                 "url", "xff")

    def __init__(self, client: ClientProtocol) -> None:
        self.client = client
        self.url = b""
        self.hdrs: list[bytes] = []
        self.size = 0
        self.method = b""
        self.chunked = False
        self.expect = False
        self.upgrade = b""  # Upgrade header value of a real upgrade request (e.g. websocket)
        self.xff = b""
        self.host: bytes | None = None  # the Host header, kept apart: it is checked and may be rewritten
        self.te = False  # a Transfer-Encoding header was sent
        self.idempotent = False
        self.discard = False  # answered already: the rest of the request body is read and dropped
        self.drop: list[bytes] | None = None  # lowered header names the client's Connection header declared hop-by-hop
        self.keep_alive = True
        self.http10 = False
        self.complete = False  # request fully received
        self.finished = False  # response accounted for
        self.aborted = False
        self.retried = False
        self.responded = False  # response head sent to the client
        self.head = b""
        self.pending: list[bytes] | None = None  # body received before an upstream connection was ready
        self.pending_size = 0
        self.sent: list[bytes] | None = None  # every request byte sent upstream, while a replay is possible
        self.sent_size = 0
        self.conn: UpstreamConn | None = None
        self.cs: ColorSet | None = None
        self.stats: Stats | None = None
        self.tried: list[Backend] | None = None
        self.t0 = 0.0
        self.t_sent = 0.0  # when the request was fully received (coarse clock): the upstream timeout starts here

    def send(self, data: bytes) -> None:
        conn = self.conn
        if self.discard:
            return
        if conn is not None:
            assert conn.transport is not None
            conn.transport.write(data)
            sent = self.sent
            if sent is not None:
                sent.append(data)
                self.sent_size += len(data)
                if self.sent_size > REPLAY_MAX:
                    self.sent = None
        else:
            if self.pending is None:
                self.pending = []
            self.pending.append(data)
            self.pending_size += len(data)
            if self.pending_size > PENDING_MAX:
                self.client.update_reading()


def error_response(status: int, msg: bytes, color_line: bytes = b"") -> bytes:
    body = msg + b"\n"
    return b"HTTP/1.1 %d %b\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%bConnection: close\r\n\r\n%b" % (
        status, REASONS.get(status, b"Error"), len(body), color_line, body)


def strip_hop(head: bytes, low: bytes) -> bytes:
    """Drop hop-by-hop headers (and any that Connection names) from a raw head; `low` is head.lower()."""
    m = _HOP.search(low)
    if m is None:
        return head
    parts = []
    pos = 0
    named: list[bytes] = []
    while m is not None:
        parts.append(head[pos : m.start()])
        pos = m.end()
        if m.group(1) == b"connection":
            value = m.group(2).strip()
            if value not in _CONN_TOKENS:
                named += [t for t in (x.strip() for x in value.split(b",")) if t not in _CONN_TOKENS]
        m = _HOP.search(low, pos)
    parts.append(head[pos:])
    out = b"".join(parts)
    if named:  # headers that Connection declared hop-by-hop
        pat = re.compile(rb"\r\n(?:" + b"|".join(re.escape(n) for n in named) + rb")[ \t]*:[^\r\n]*", re.I)
        out = pat.sub(b"", out)
    return out
