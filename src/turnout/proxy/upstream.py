"""Pooled keep-alive connections to upstream instances.

Responses are forwarded as raw bytes: httptools parses them only to find where a message ends (no header or
body callbacks, so it runs in C), and only the head is rewritten (hop-by-hop headers out, color header in).
Chunked bodies pass through with their framing intact; we never send pipelined requests upstream, so all
bytes after a head belong to that response.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from turnout.proxy.state import DOWN_SECONDS, Backend

if TYPE_CHECKING:
    from turnout.proxy.downstream import ClientProtocol
    from turnout.proxy.exchange import Ctx, Exchange

MAX_HEAD = 64 * 1024
MAX_IDLE = 512  # pooled connections per backend; more are closed when released


class UpstreamConn(asyncio.Protocol):
    __slots__ = ("backend", "close_delim", "closed", "ctx", "done", "ex", "got", "head_buf", "idle_since",
                 "in_head", "keep_alive", "no_body", "parser", "paused", "peer", "read_paused", "reused", "status",
                 "transport")

    def __init__(self, ctx: Ctx, backend: Backend) -> None:
        self.ctx = ctx
        self.backend = backend
        self.transport: asyncio.Transport | None = None
        self.parser = HttpResponseParser(self)
        self.ex: Exchange | None = None
        self.peer: ClientProtocol | None = None  # set once this connection is a tunnel (after a 101)
        self.closed = False
        self.paused = False  # this socket's write buffer is full: the client's reads are paused for it
        self.read_paused = False  # the client's write buffer is full: our reads are paused for it
        self.idle_since = 0.0
        self.reset()

    def reset(self) -> None:
        self.got = False  # any response byte seen (then a retry is no longer safe)
        self.in_head = True
        self.head_buf = b""
        self.done = False
        self.status = 0
        self.keep_alive = False
        self.no_body = False
        self.close_delim = False
        self.reused = False

    # -- lifecycle ---------------------------------------------------------------------------------
    def attach(self, ex: Exchange, reused: bool, data: bytes) -> None:
        """Send `ex`'s head (plus any body already received) on this connection."""
        # reset() inlined: this runs once per request
        self.got = self.done = self.keep_alive = self.close_delim = False
        self.in_head = True
        self.head_buf = b""
        self.status = 0
        self.ex = ex
        self.reused = reused
        self.no_body = ex.method == b"HEAD"
        if ex.pending is not None:
            data += b"".join(ex.pending)
            ex.pending = None
            ex.pending_size = 0
        ex.conn = self
        ex.sent = [data] if reused else None  # kept for one replay if a pooled connection turns out dead
        assert self.transport is not None
        self.transport.write(data)
        client = ex.client
        if client.reading_paused:
            client.update_reading()
        if client.write_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def release(self) -> None:
        """Response complete: back to the pool if both sides allow it, else close."""
        ex = self.ex
        self.ex = None
        self.paused = False
        if self.read_paused and self.transport is not None:
            self.read_paused = False
            self.transport.resume_reading()
        b = self.backend
        if (self.keep_alive and ex is not None and ex.complete and not b.retired and not self.closed
                and len(b.idle) < MAX_IDLE):
            self.idle_since = self.ctx.now
            b.idle.append(self)
        else:
            self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Client went away mid-exchange: the response can't be consumed, so the connection can't be reused."""
        self.ex = None
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ex = self.ex
        if ex is None:
            if self.peer is not None:
                self.peer.transport.close()
                return
            with contextlib.suppress(ValueError):
                self.backend.idle.remove(self)
            return
        self.ex = None
        ex.conn = None
        if not self.got and self.reused and not ex.retried and ex.sent is not None:
            # The classic keep-alive race: upstream closed a pooled connection as we sent on it. Nothing came
            # back, so the request did not run there; replay it once on a fresh connection.
            ex.retried = True
            data = b"".join(ex.sent)
            ex.sent = None
            connect(self.ctx, ex, self.backend, data, fresh=True)
        elif self.close_delim and not self.in_head:
            ex.client.finish(ex, self)  # the close *is* the end of this response
        else:
            ex.client.upstream_failed(ex, not self.in_head)

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost decides what it meant

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.transport.pause_reading()
            return
        self.paused = True
        if self.ex is not None:
            self.ex.client.update_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.transport.resume_reading()
            return
        self.paused = False
        if self.ex is not None:
            self.ex.client.update_reading()

    def data_received(self, data: bytes) -> None:
        ex = self.ex
        if ex is None:
            if self.peer is not None:  # tunnel
                self.peer.transport.write(data)
            else:  # bytes on an idle connection: upstream is confused, don't reuse it
                self.close()
            return
        self.got = True
        if not self.no_body:
            try:
                self.parser.feed_data(data)
            except (HttpParserError, HttpParserUpgrade):
                if self.status != 101:  # 101 ends HTTP on this connection: handled below
                    self.keep_alive = False
                    self.close()
                    return
        client = ex.client
        if self.in_head:
            buf = self.head_buf + data if self.head_buf else data
            while True:
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    if len(buf) > MAX_HEAD:
                        self.close()
                    else:
                        self.head_buf = buf
                    return
                head = buf[:i]
                if head[9:10] != b"1" or head[9:12] == b"101":
                    break
                client.interim(ex, buf[: i + 4])  # 1xx: pass it on, the real head follows
                buf = buf[i + 4 :]
            self.head_buf = b""
            self.in_head = False
            if head[9:12] == b"101":
                client.start_tunnel(ex, self, head, buf[i + 4 :])
                return
            if self.no_body:  # HEAD: the parser was not fed (it can't know there is no body), read the status here
                code = head[9:12]
                if not head.startswith(b"HTTP/1.") or not code.isdigit():
                    self.close()
                    return
                self.status = int(code)
                self.done = True
                low = head[:200].lower()
                self.keep_alive = head.startswith(b"HTTP/1.1") and b"connection: close" not in low
            client.response_head(ex, self, head, buf[i + 4 :])
        elif data:
            client.transport.write(data)
        if self.done and self.ex is ex:
            client.finish(ex, self)

    # -- httptools callbacks (framing only) -------------------------------------------------------------
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_message_complete(self) -> None:
        if self.status >= 200:
            self.done = True
            self.keep_alive = self.parser.should_keep_alive()


def connect(ctx: Ctx, ex: Exchange, b: Backend, data: bytes, fresh: bool = False) -> None:
    """Send on a pooled connection if there is one (and `fresh` is not asked), else open a new one."""
    if ex.aborted:
        return
    idle = b.idle
    while idle and not fresh:
        conn = idle.pop()
        if not conn.closed:
            conn.attach(ex, True, data)
            return
    ctx.loop.create_task(_open(ctx, ex, b, data))


async def _open(ctx: Ctx, ex: Exchange, b: Backend, data: bytes) -> None:
    try:
        async with asyncio.timeout(ctx.connect_timeout):
            _, conn = await ctx.loop.create_connection(lambda: UpstreamConn(ctx, b), b.host, b.port)
    except (OSError, TimeoutError):
        b.down_until = ctx.now + DOWN_SECONDS
        if not ex.aborted:
            ex.client.connect_failed(ex, b)
        return
    if ex.aborted:  # client left while we connected: keep the connection for the next request
        if len(b.idle) < MAX_IDLE and not b.retired:
            conn.idle_since = ctx.now
            b.idle.append(conn)
        else:
            conn.close()
        return
    conn.attach(ex, False, data)
