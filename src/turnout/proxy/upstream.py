"""Pooled keep-alive connections to upstream instances.

Responses are forwarded as raw bytes; only the head is rewritten (hop-by-hop headers out, color header in).
Where a response ends is computed from its head (`framing`), and llhttp (httptools, no per-header callbacks,
so it runs in C) is fed exactly the bytes up to that end and must agree: nothing past a response's framing
is forwarded, and a connection that carries such bytes, or any byte while no request is outstanding, is
dropped rather than pooled, so an answer can never reach the wrong client. We never pipeline upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import struct
from fcntl import ioctl
from termios import FIONREAD
from typing import TYPE_CHECKING

from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

from turnout.proxy.exchange import REPLAY_MAX
from turnout.proxy.framing import CHUNKED, CLOSE, LENGTH, NONE, Chunks, body_mode
from turnout.proxy.state import DOWN_SECONDS, Backend

if TYPE_CHECKING:
    from turnout.proxy.downstream import ClientProtocol
    from turnout.proxy.exchange import Ctx, Exchange

MAX_HEAD = 64 * 1024
MAX_IDLE = 512  # pooled connections per backend; more are closed when released
RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset instead of a clean FIN
_FD_SHORTAGE = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_AVAILABLE = bytearray(4)  # FIONREAD answer buffer, reused (one event loop per process)


def reset(transport: asyncio.Transport) -> None:
    """Abort so the peer sees an error (RST), never what looks like a clean end of a close-delimited body."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET)
    transport.abort()


class UpstreamConn(asyncio.Protocol):
    __slots__ = ("backend", "chunks", "closed", "ctx", "done", "ex", "fd", "got", "head_buf", "idle_since",
                 "in_head", "keep_alive", "last_read", "left", "mode", "no_body", "parser", "paused", "peer",
                 "read_paused", "reused", "status", "transport", "valid")

    def __init__(self, ctx: Ctx, backend: Backend) -> None:
        self.ctx = ctx
        self.backend = backend
        self.transport: asyncio.Transport | None = None
        self.fd = -1
        self.parser = HttpResponseParser(self)
        self.ex: Exchange | None = None
        self.peer: ClientProtocol | None = None  # set once this connection is a tunnel (after a 101)
        self.closed = False
        self.paused = False  # this socket's write buffer is full: the client's reads are paused for it
        self.read_paused = False  # the client's write buffer is full: our reads are paused for it
        self.idle_since = 0.0
        self.last_read = 0.0  # coarse clock of the last byte received: a silent body times out
        self.chunks: Chunks | None = None
        self.got = self.in_head = self.done = self.keep_alive = self.no_body = self.reused = self.valid = False
        self.head_buf = b""
        self.status = self.mode = self.left = 0

    # -- lifecycle ---------------------------------------------------------------------------------
    def attach(self, ex: Exchange, reused: bool, data: bytes) -> None:
        """Send `ex`'s head (plus any body already received) on this connection."""
        self.got = self.done = self.keep_alive = self.valid = False
        self.in_head = True
        self.head_buf = b""
        self.status = 0
        self.ex = ex
        self.reused = reused
        self.last_read = self.ctx.now
        self.no_body = ex.method == b"HEAD"
        if ex.pending is not None:
            data += b"".join(ex.pending)
            ex.pending = None
            ex.pending_size = 0
        ex.conn = self
        # kept for a replay: a pooled connection that turns out dead, or an instance that dies before answering
        if (reused or ex.idempotent) and len(data) <= REPLAY_MAX:
            ex.sent = [data]
            ex.sent_size = len(data)
        else:
            ex.sent = None
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

    def stale(self) -> bool:
        """Bytes already waiting on an idle pooled connection belong to no request: it must not be reused."""
        try:
            ioctl(self.fd, FIONREAD, _AVAILABLE, True)
        except OSError:
            return True
        return _AVAILABLE != b"\0\0\0\0"

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
        sock = transport.get_extra_info("socket")
        self.fd = sock.fileno() if sock is not None else -1
        self.ctx.upstreams += 1

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.ctx.upstreams -= 1
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
        if self.mode == CLOSE and not self.in_head and exc is None and not self.done:
            self.done = True
            ex.client.finish(ex, self)  # a clean close *is* the end of this response
        elif not self.got and ex.sent is not None and not ex.responded:
            # Nothing came back, so the request can be sent again: once on a fresh connection when a pooled one
            # was closed under us (the keep-alive race), and for idempotent requests on another instance of
            # the same color when this one died before answering.
            data = b"".join(ex.sent)
            ex.sent = None
            if self.reused and not ex.retried:
                ex.retried = True
                connect(self.ctx, ex, self.backend, data, fresh=True)
            elif ex.idempotent:
                ex.client.retry(ex, self.backend, data)
            else:
                ex.client.upstream_failed(ex, False)
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

    def broken(self) -> None:
        """The upstream spoke out of turn or out of protocol: never reuse it; the client's exchange fails."""
        self.keep_alive = False
        ex = self.ex
        if ex is not None and not self.done:
            self.ex = None
            ex.conn = None
            ex.client.upstream_failed(ex, not self.in_head)
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def data_received(self, data: bytes) -> None:
        ex = self.ex
        if ex is None:
            if self.peer is not None:  # tunnel
                self.peer.transport.write(data)
            else:  # bytes on an idle connection: an answer to nobody; don't reuse it
                self.close()
            return
        self.got = True
        self.last_read = self.ctx.now
        client = ex.client
        if self.in_head:
            buf = self.head_buf + data if self.head_buf else data
            while True:
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    if len(buf) > MAX_HEAD:
                        self.broken()
                    else:
                        self.head_buf = buf
                    return
                head = buf[:i]
                if not head.startswith(b"HTTP/1.") or not head[9:12].isdigit() or head[12:13] not in (b" ", b""):
                    self.broken()  # (a head may not even start with an empty line: that is how answers leak)
                    return
                if head[9:10] != b"1" or head[9:12] == b"101":
                    break
                try:  # 1xx: llhttp checks it too, then passes it on; the real head follows
                    self.parser.feed_data(buf[: i + 4])
                except (HttpParserError, HttpParserUpgrade):
                    self.broken()
                    return
                self.valid = False
                client.interim(ex, buf[: i + 4])
                buf = buf[i + 4 :]
            self.head_buf = b""
            self.in_head = False
            code = head[9:12]
            if code == b"101":
                client.start_tunnel(ex, self, head, buf[i + 4 :])
                return
            low = head.lower()
            try:
                self.status = status = int(code)
                self.mode, self.left = body_mode(low, status, self.no_body)
                start = i + 4
                if self.mode == NONE:
                    end = start
                elif self.mode == LENGTH:
                    end = min(start + self.left, len(buf))
                    self.left -= end - start
                elif self.mode == CHUNKED:
                    self.chunks = Chunks()
                    end = self.chunks.end(buf, start)
                    self.left = 1 if end < 0 else -1  # -1: the chunked body is complete
                    if end < 0:
                        end = len(buf)
                else:
                    end = len(buf)
                if self.no_body:  # llhttp can't know a HEAD answer has no body: check the head, then start afresh
                    self.parser.feed_data(buf[:start])
                    self.parser = HttpResponseParser(self)
                    self.valid = True
                    self.keep_alive = head.startswith(b"HTTP/1.1") and b"\r\nconnection: close" not in low
                else:
                    self.parser.feed_data(buf[:end] if end < len(buf) else buf)
            except (HttpParserError, HttpParserUpgrade, ValueError):
                self.status = 502
                self.broken()
                return
            done = self.mode == NONE or (self.left <= 0 and self.mode != CLOSE)
            if done and not self.valid:  # our framing and llhttp's must agree on where the message ends
                self.broken()
                return
            self.done = done
            if self.mode == CLOSE:
                self.keep_alive = False
            client.response_head(ex, self, head, low, buf[start:end] if end < len(buf) else buf[start:])
            if end < len(buf):  # bytes beyond the framing: an answer to no request
                self.keep_alive = False
        else:
            mode = self.mode
            end = len(data)
            try:
                if mode == LENGTH:
                    end = min(end, self.left)
                    self.left -= end
                elif mode == CHUNKED:
                    assert self.chunks is not None
                    e = self.chunks.end(data)
                    if e >= 0:
                        end = e
                        self.left = -1
                self.parser.feed_data(data if end == len(data) else data[:end])
            except (HttpParserError, HttpParserUpgrade, ValueError):
                self.broken()
                return
            if mode != CLOSE and self.left <= 0:
                if not self.valid:
                    self.broken()
                    return
                self.done = True
            client.transport.write(data if end == len(data) else data[:end])
            if end < len(data):
                self.keep_alive = False
        if self.done and self.ex is ex:
            client.finish(ex, self)

    # -- httptools callbacks (framing only) -------------------------------------------------------------
    def on_message_complete(self) -> None:
        self.valid = True
        self.keep_alive = self.parser.should_keep_alive()


def connect(ctx: Ctx, ex: Exchange, b: Backend, data: bytes, fresh: bool = False) -> None:
    """Send on a pooled connection if there is one (and `fresh` is not asked), else open a new one."""
    if ex.aborted:
        return
    idle = b.idle
    while idle and not fresh:
        conn = idle.pop()
        if conn.closed:
            continue
        if conn.stale():
            conn.close()
            continue
        conn.attach(ex, True, data)
        return
    ctx.loop.create_task(_open(ctx, ex, b, data))


async def _open(ctx: Ctx, ex: Exchange, b: Backend, data: bytes) -> None:
    ctx.upstreams += 1  # counted while connecting: the descriptor exists already
    try:
        async with asyncio.timeout(ctx.connect_timeout):
            _, conn = await ctx.loop.create_connection(lambda: UpstreamConn(ctx, b), b.host, b.port)
    except (OSError, TimeoutError) as err:
        if isinstance(err, OSError) and err.errno in _FD_SHORTAGE:  # our shortage, not the instance's fault
            if not ex.aborted:
                ex.client.fail(ex, b"proxy is out of connections", 503)
            return
        b.down_until = ctx.now + DOWN_SECONDS
        if not ex.aborted:
            ex.client.retry(ex, b, data)  # nothing was sent: safe for any method
        return
    finally:
        ctx.upstreams -= 1
    if ex.aborted:  # client left while we connected: keep the connection for the next request
        if len(b.idle) < MAX_IDLE and not b.retired:
            conn.idle_since = ctx.now
            b.idle.append(conn)
        else:
            conn.close()
        return
    conn.attach(ex, False, data)
