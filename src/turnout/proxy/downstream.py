"""The client-facing HTTP/1.1 protocol: parse requests, pick a color per request, stream both ways.

One `ClientProtocol` per client connection, one `Exchange` per request. The color is chosen when a request's
head is complete, from the router snapshot of that moment; nothing about the connection remembers it, so the
next request on the same keep-alive connection follows the next switch. Pipelined requests queue behind the
active one and reading pauses until it is answered.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser

from turnout.proxy.exchange import IDEMPOTENT, PENDING_MAX, REASONS, Ctx, Exchange, error_response, strip_hop
from turnout.proxy.framing import CLOSE
from turnout.proxy.state import Backend
from turnout.proxy.upstream import MAX_HEAD, connect, reset

if TYPE_CHECKING:
    from turnout.proxy.upstream import UpstreamConn

IDLE, HEAD, BODY, LINGER, TUNNEL = 0, 1, 2, 3, 4
LINGER_SECONDS = 2.0  # after an error answer, read and drop what the client still sends, then close
LINGER_BYTES = 1024 * 1024
LINGER_MAX = 64  # connections refused for capacity that may linger at once (their descriptors are reserved)
# Request headers we drop (hop-by-hop) or treat specially; everything else is forwarded as received.
SPECIAL = frozenset((b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade",
                     b"transfer-encoding", b"x-forwarded-for", b"expect", b"proxy-authorization", b"host"))
# Connection may name hop-by-hop headers to drop, but never these: the request would change meaning upstream.
_KEEP = frozenset((b"host", b"content-length", b"transfer-encoding"))
_PLAIN_CONNECTION = frozenset((b"keep-alive", b"close", b"upgrade"))
# What a Host value may hold (RFC 9110 §7.2, RFC 3986 §3.2.2: reg-name or IP literal, then a port):
# a space, "@", "/", a quote or a control byte is a 400, never an app's password-reset link.
HOST_BYTES = (b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
              b"-._~!$&'()*+,;=%:[]")
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n"
        b"Retry-After: 1\r\nConnection: close\r\n\r\nproxy at its capacity\n")


class _Reject(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class ClientProtocol(asyncio.Protocol):
    __slots__ = ("active", "broken", "counted", "ctx", "cur", "deadline", "head_bytes", "last", "lingered", "listener",
                 "parser", "queue", "reading_paused", "state", "stats", "transport", "tunnel", "write_paused",
                 "write_since", "xff_line", "xff_peer")

    def __init__(self, ctx: Ctx, listener: int) -> None:
        self.ctx = ctx
        self.listener = listener  # 0 production, 1 test
        self.stats = ctx.metrics.stats[listener]
        self.parser = HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.state = IDLE
        self.cur: Exchange | None = None  # being parsed
        self.active: Exchange | None = None  # being answered
        self.queue: deque[Exchange] = deque()
        self.broken = False  # stop reading; close once the active exchange is done
        self.last = False  # a request said Connection: close: answer the ones before it, read nothing after
        self.counted = False  # holds one of its listener's connection slots
        self.write_since = 0.0  # when the client stopped taking our writes (write_paused)
        self.tunnel: UpstreamConn | None = None  # after a 101: bytes flow both ways unparsed
        self.reading_paused = False
        self.write_paused = False
        self.head_bytes = 0
        self.deadline = ctx.now + ctx.header_timeout
        self.lingered = 0
        self.xff_peer = b""
        self.xff_line = b""

    # -- asyncio.Protocol ---------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        ctx = self.ctx
        li = self.listener
        if ctx.conns[li] >= ctx.max_connections or (
                len(ctx.clients) + ctx.upstreams >= ctx.fd_budget and not evict_idle(ctx)):
            # Full: say so at once rather than hold the descriptor; the reserve keeps room for these answers
            ctx.metrics.rejected[li] += 1
            if ctx.lingering < LINGER_MAX:
                ctx.lingering += 1
                ctx.clients[self] = None
                self.close_with(BUSY)
            else:
                self.transport.abort()
            return
        ctx.conns[li] += 1
        self.counted = True
        peer = transport.get_extra_info("peername")
        self.xff_peer = str(peer[0]).encode() if isinstance(peer, tuple) else b"unknown"
        self.xff_line = b"X-Forwarded-For: " + self.xff_peer + b"\r\n"
        ctx.clients[self] = None

    def connection_lost(self, exc: Exception | None) -> None:
        ctx = self.ctx
        ctx.clients.pop(self, None)
        if self.counted:
            ctx.conns[self.listener] -= 1
            self.counted = False
        elif self.state == LINGER:
            ctx.lingering -= 1
        if ctx.draining and not ctx.clients:
            ctx.drained.set()
        self.broken = True
        if self.tunnel is not None:
            self.tunnel.close()
        for ex in (self.active, *self.queue):
            if ex is not None:
                ex.aborted = True
        ex = self.active
        if ex is not None and not ex.finished:
            self._account(ex, 0)
            if ex.conn is not None:
                ex.conn.abort()
                ex.conn = None
        self.active = None
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        if self.state >= LINGER:
            if self.state == TUNNEL:
                assert self.tunnel is not None and self.tunnel.transport is not None
                self.tunnel.transport.write(data)
                return
            self.lingered += len(data)
            if self.lingered > LINGER_BYTES:
                self.transport.close()
            return
        if self.last:
            return  # nothing after a Connection: close request is read (RFC 9112 §9.6)
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade as up:
            rest = data[up.args[0]:]
            ex = self.cur
            if ex is not None and ex.upgrade:
                if rest:  # early tunnel bytes: the upstream reads them after its 101
                    ex.send(rest)
            elif rest:  # not a real upgrade (e.g. CONNECT refused): parse on
                self.data_received(rest)
            return
        except HttpParserError as err:
            if self.last:  # llhttp refuses data after a close request: it is simply not read
                return
            ctx = err.__context__
            self.reject(ctx.status if isinstance(ctx, _Reject) else 400)
            return
        if self.state == HEAD:
            self.head_bytes += len(data)
            if self.head_bytes > MAX_HEAD:
                self.reject(431)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.write_since = self.ctx.now
        if self.tunnel is not None and self.tunnel.transport is not None:
            self.tunnel.transport.pause_reading()
        ex = self.active
        up = ex.conn if ex is not None else None
        if up is not None and up.transport is not None and not up.read_paused:
            up.read_paused = True
            up.transport.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.tunnel is not None and self.tunnel.transport is not None:
            self.tunnel.transport.resume_reading()
        ex = self.active
        up = ex.conn if ex is not None else None
        if up is not None and up.transport is not None and up.read_paused:
            up.read_paused = False
            up.last_read = self.ctx.now  # its silence was our doing: the upstream's clock starts again
            up.transport.resume_reading()

    # -- httptools callbacks ------------------------------------------------------------------------------
    def on_message_begin(self) -> None:
        ex = Exchange(self)
        self.cur = ex
        self.state = HEAD
        self.head_bytes = 0
        self.deadline = self.ctx.now + self.ctx.header_timeout
        if self.active is None:
            self.active = ex
        else:
            self.queue.append(ex)  # pipelined: answer in order, stop reading meanwhile
            self.update_reading()

    def on_url(self, url: bytes) -> None:
        ex = self.cur
        assert ex is not None
        ex.url += url
        ex.size += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        ex = self.cur
        assert ex is not None
        ex.size += len(name) + len(value) + 4
        low = name.lower()
        if low not in SPECIAL:
            ex.hdrs += (name, b": ", value, b"\r\n")
        elif low == b"host":
            if ex.host is not None or value.translate(None, HOST_BYTES):  # RFC 9112 §3.2: one valid Host
                raise _Reject(400)
            ex.host = value
        elif low == b"transfer-encoding":
            # llhttp refuses CL+TE together; refuse a non-final "chunked" here, before anything is forwarded
            if not value.lower().rstrip().endswith(b"chunked"):
                raise _Reject(400)
            ex.chunked = ex.te = True
        elif low == b"x-forwarded-for":
            ex.xff = value + b", "
        elif low == b"expect":
            ex.expect = value.lower() == b"100-continue"
        elif low == b"upgrade":
            ex.upgrade = value
        elif low == b"connection":
            v = value.lower()
            if v not in _PLAIN_CONNECTION:
                named = [t.strip() for t in v.split(b",")]
                ex.drop = [t for t in named if t and t not in _PLAIN_CONNECTION and t not in _KEEP] or None

    def on_headers_complete(self) -> None:
        ex = self.cur
        assert ex is not None
        if ex.size > MAX_HEAD:
            raise _Reject(431)
        p = self.parser
        ex.method = p.get_method()
        if ex.method == b"CONNECT":
            raise _Reject(405)
        version = p.get_http_version()
        if version[:2] != "1.":  # HTTP/2.0 in HTTP/1 framing (RFC 9110 §15.6.6); 1.2 and up are read as 1.1
            raise _Reject(505)
        ex.http10 = version == "1.0"
        if ex.http10:
            if ex.te:  # RFC 9112 §6.1: a 1.0 message with Transfer-Encoding has unreliable framing
                raise _Reject(400)
        elif ex.host is None:  # RFC 9112 §3.2
            raise _Reject(400)
        if ex.url[:1] != b"/":
            absolute_form(ex)
        ex.idempotent = ex.method in IDEMPOTENT
        ex.keep_alive = p.should_keep_alive() and not ex.http10
        if ex.upgrade:
            if p.should_upgrade():  # Upgrade + Connection: upgrade. After it: a tunnel, or a close
                ex.keep_alive = False
            else:
                ex.upgrade = b""
        self.state = BODY
        self.deadline = self.ctx.now + self.ctx.body_timeout  # a body must keep moving
        if ex is self.active:
            self.start(ex)

    def on_body(self, body: bytes) -> None:
        ex = self.cur
        assert ex is not None
        if ex.chunked:  # httptools hands us de-chunked data: frame it again for upstream
            body = b"%x\r\n%b\r\n" % (len(body), body)
        # Each byte buys 1/min-rate seconds, never more than body_timeout ahead: a stall or a trickle ends
        ctx = self.ctx
        deadline = self.deadline + len(body) * ctx.body_credit
        cap = ctx.now + ctx.body_timeout
        self.deadline = deadline if deadline < cap else cap
        ex.send(body)

    def on_message_complete(self) -> None:
        ex = self.cur
        assert ex is not None
        ex.complete = True
        ex.t_sent = self.ctx.now
        if ex.chunked:
            ex.send(b"0\r\n\r\n")
        self.state = IDLE
        if not ex.keep_alive:
            self.last = True  # nothing may follow a "close" request; the ones before it are still answered
            self.update_reading()
        if ex.discard and ex is self.active:  # the rest of a body whose answer went out already: now read
            self.active = None
            if not ex.keep_alive or self.broken or self.ctx.draining:
                self.transport.close()
            else:
                self._next()

    # -- request side ---------------------------------------------------------------------------------------
    def start(self, ex: Exchange) -> None:
        """Choose the color (one snapshot read), count the request, and send its head upstream."""
        ctx = self.ctx
        router = ctx.router
        cs = ex.cs = router.snap.test if self.listener else router.snap.fixed or router.production()
        st = ex.stats = self.stats[cs.index]
        st.inflight += 1
        ex.t0 = ctx.loop.time()
        if ex.expect and not ex.http10:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        xff = b"X-Forwarded-For: " + ex.xff + self.xff_peer + b"\r\n" if ex.xff else self.xff_line
        if ex.drop is not None:  # rare: the client named extra hop-by-hop headers in Connection
            h = ex.hdrs
            ex.hdrs = [x for i in range(0, len(h), 4) if h[i].lower() not in ex.drop for x in h[i : i + 4]]
        ex.head = b"%b %b %b%b%b%b%b\r\n" % (
            ex.method, ex.url, b"HTTP/1.0\r\n" if ex.http10 else b"HTTP/1.1\r\n",
            b"" if ex.host is None else b"Host: " + ex.host + b"\r\n", b"".join(ex.hdrs), xff,
            b"Transfer-Encoding: chunked\r\n" if ex.chunked
            else b"Connection: Upgrade\r\nUpgrade: " + ex.upgrade + b"\r\n" if ex.upgrade else b"")
        b = cs.pick(ctx.now)
        if b is None:
            self.fail(ex, b"no backend for this color")
            return
        connect(ctx, ex, b, ex.head)


    def retry(self, ex: Exchange, b: Backend, data: bytes) -> None:
        """`b` refused the connection, or died before answering anything: send `data` (all of the request
        that went to it) to the next instance of the *same* color that was not tried yet."""
        assert ex.stats is not None and ex.cs is not None
        ex.stats.errors += 1
        if ex.tried is None:
            ex.tried = [b]
        else:
            ex.tried.append(b)
        nb = ex.cs.pick(self.ctx.now, ex.tried)
        if nb is None:
            self.fail(ex, b"all instances of this color are down")
        else:
            connect(self.ctx, ex, nb, data)

    def update_reading(self) -> None:
        ex = self.active
        want = bool(self.queue) or self.broken or self.last or (ex is not None and (
            ex.pending_size > PENDING_MAX or (ex.conn is not None and ex.conn.paused)))
        if want != self.reading_paused and not self.transport.is_closing():
            self.reading_paused = want
            if want:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()
                if self.state == BODY:  # the pause was ours, not the client's: restart its clock
                    self.deadline = self.ctx.now + self.ctx.body_timeout

    # -- response side ----------------------------------------------------------------------------------------
    def interim(self, ex: Exchange, head: bytes) -> None:
        if not ex.http10:
            self.transport.write(head)

    def response_head(self, ex: Exchange, up: UpstreamConn, head: bytes, low: bytes, rest: bytes) -> None:
        close = not ex.keep_alive or self.ctx.draining or self.broken
        if up.mode == CLOSE:  # body ends when upstream closes: so must this client connection
            close = True
        ex.keep_alive = not close
        head = strip_hop(head, low)
        assert ex.cs is not None
        ex.responded = True
        out = b"%b\r\n%b%b\r\n%b" % (head, ex.cs.color_line, b"Connection: close\r\n" if close else b"", rest)
        self.transport.write(out)

    def start_tunnel(self, ex: Exchange, up: UpstreamConn, head: bytes, rest: bytes) -> None:
        """101 Switching Protocols: from here on both connections are one byte pipe on this color."""
        if not ex.upgrade:  # switched protocols unasked: the upstream is broken
            up.ex = None
            up.close()
            ex.conn = None
            self.fail(ex, b"upstream switched protocols unasked")
            return
        ex.finished = True
        st = ex.stats
        assert st is not None and ex.cs is not None
        st.inflight -= 1
        st.observe(101, self.ctx.loop.time() - ex.t0)
        ex.conn = None
        self.active = None
        up.ex = None
        up.peer = self
        self.tunnel = up
        self.state = TUNNEL
        self.broken = self.last = False
        self.transport.write(b"%b\r\n%b\r\n%b" % (head, ex.cs.color_line, rest))
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()
        if self.write_paused and up.transport is not None:
            up.transport.pause_reading()

    def finish(self, ex: Exchange, up: UpstreamConn) -> None:
        ex.finished = True
        st = ex.stats
        assert st is not None
        st.inflight -= 1
        ctx = self.ctx
        st.observe(up.status, ctx.loop.time() - ex.t0)
        ex.conn = None
        up.release()  # (closed, not pooled, if the request was not complete: the upstream is owed the rest)
        if not ex.complete and ex.keep_alive and not (self.broken or ctx.draining or self.transport.is_closing()):
            # Answered before the whole body came (a server may answer early, e.g. a 401 or an upload sink):
            # read the rest and drop it, so the client's keep-alive connection goes on.
            ex.discard = True
            ex.pending = ex.sent = None
            ex.pending_size = 0
            self.update_reading()
            return
        self.active = None
        if not ex.keep_alive or not ex.complete or self.broken or ctx.draining or self.transport.is_closing():
            self.transport.close()
        elif self.queue or self.reading_paused:
            self._next()
        else:
            self.deadline = ctx.now + ctx.idle_timeout

    def _next(self) -> None:
        if self.queue:
            nxt = self.active = self.queue.popleft()
            self.update_reading()
            if nxt.method:  # head already parsed; otherwise on_headers_complete starts it
                self.start(nxt)
        else:
            self.deadline = self.ctx.now + self.ctx.idle_timeout
            if self.reading_paused:
                self.update_reading()

    def _account(self, ex: Exchange, status: int) -> None:
        ex.finished = True
        st = ex.stats
        if st is not None:
            st.inflight -= 1
            st.observe(status, self.ctx.loop.time() - ex.t0)

    def fail(self, ex: Exchange, msg: bytes, status: int = 502) -> None:
        """502/504 before any response byte was sent; the connection closes (the request body may be unread)."""
        if ex.finished or ex.aborted:
            return
        self._account(ex, status)
        self.active = None
        if ex.conn is not None:
            ex.conn.abort()
            ex.conn = None
        assert ex.cs is not None
        self.close_with(error_response(status, msg, ex.cs.color_line), linger=not ex.complete)

    def close_with(self, data: bytes, linger: bool = True) -> None:
        """Send a final answer and close. Closing with unread input would make the kernel send a reset that
        can destroy the answer before the client reads it, so half-close and drain the input for a while."""
        self.broken = True
        self.queue.clear()
        if not linger or self.transport.is_closing():
            self.transport.write(data)
            self.transport.close()
            return
        self.state = LINGER
        self.lingered = 0
        self.deadline = self.ctx.now + LINGER_SECONDS
        self.transport.write(data)
        self.transport.write_eof()
        if self.reading_paused:
            self.reading_paused = False
            self.transport.resume_reading()

    def upstream_failed(self, ex: Exchange, head_sent: bool) -> None:
        assert ex.stats is not None
        ex.stats.errors += 1
        ex.conn = None
        if head_sent:
            self.truncate(ex)
        else:
            self.fail(ex, b"upstream closed the connection")

    def truncate(self, ex: Exchange) -> None:
        """A response cut short can't be fixed: reset the connection so the client sees an error, never what
        looks like the clean end of a close-delimited body, and never a hang."""
        self._account(ex, 0)
        self.active = None
        self.broken = True
        if ex.conn is not None:
            ex.conn.abort()
            ex.conn = None
        reset(self.transport)

    def reject(self, status: int) -> None:
        """Hostile or broken input: answer it (unless a response is already under way) and close."""
        self.ctx.metrics.rejected[self.listener] += 1
        self.broken = True
        self.queue.clear()
        ex = self.active
        if ex is not None and ex.stats is not None:
            if ex.complete:  # the bad bytes came after a good request: let that one finish, then close
                self.update_reading()
                return
            # the body of the request being proxied is broken: that exchange can't finish
            if not ex.finished:  # (it may be answered already, its body being read and dropped)
                self._account(ex, status)
            ex.aborted = True
            if ex.conn is not None:
                ex.conn.abort()
                ex.conn = None
            if ex.responded:
                self.active = None
                self.transport.close()
                return
        self.active = None
        self.close_with(error_response(status, REASONS[status]))

    def stalled_reader(self) -> None:
        """The client has left our writes unread past --write-timeout: drop it, and its upstream side."""
        ex = self.active
        if ex is not None and not ex.finished:
            self.truncate(ex)
        else:
            if self.tunnel is not None:
                self.tunnel.close()
            reset(self.transport)

    def timeout(self) -> None:
        if self.state in (HEAD, BODY):
            self.reject(408)
        else:
            self.transport.close()


def evict_idle(ctx: Ctx) -> bool:
    """Out of descriptors: close the oldest connection with no request under way (silent since it connected,
    or idle between requests; a keep-alive client just reconnects), so production keeps accepting."""
    for c in ctx.clients:
        if c.state == IDLE and c.active is None and c.counted and not c.transport.is_closing():
            c.transport.close()
            return True
    return False


def absolute_form(ex: Exchange) -> None:
    """RFC 9112 §3.2.2: with an absolute-form target the Host header is replaced by the target's authority;
    forward the origin form. Anything else ("*" aside) is a 400."""
    url = ex.url
    if url == b"*" and ex.method == b"OPTIONS":
        return
    scheme, sep, rest = url.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        raise _Reject(400)
    cut = len(rest)
    for ch in b"/?#":
        i = rest.find(bytes((ch,)))
        if 0 <= i < cut:
            cut = i
    authority = rest[:cut].rpartition(b"@")[2]  # userinfo is never forwarded
    if not authority or authority.translate(None, HOST_BYTES):
        raise _Reject(400)
    path = rest[cut:].partition(b"#")[0]
    ex.url = path if path.startswith(b"/") else b"/" + path
    ex.host = authority
