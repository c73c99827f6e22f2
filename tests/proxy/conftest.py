"""Fixtures for the builtin proxy: real proxy processes, tiny upstream servers, and a raw HTTP/1.1 client.

The upstreams run on their own event loop in a background thread (shared by the whole session) so that a test
blocking its own loop can never stall them. Each answers with its color, plus a few endpoints that misbehave
on purpose (slow streams, echo, mid-response death, close-delimited bodies).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from turnout.infra.procs import free_port

TOKEN = "test-token-123"


# -- upstream servers ---------------------------------------------------------------------------------------

async def read_body(reader: asyncio.StreamReader, h: dict[str, str]) -> AsyncIterator[bytes]:
    if h.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return
            yield await reader.readexactly(size)
            await reader.readexactly(2)
    left = int(h.get("content-length", "0"))
    while left:
        piece = await reader.read(min(left, 65536))
        if not piece:
            raise ConnectionError("client closed mid-body")
        left -= len(piece)
        yield piece


class Upstream:
    def __init__(self, color: str, name: str) -> None:
        self.color, self.name = color, name
        self.port = 0
        self.idle_close: float | None = None  # close keep-alive connections idle this long (the reuse race)
        self.requests = 0
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", port, reuse_address=True)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Like a process dying: the listener and every open connection go away."""
        assert self.server is not None
        self.server.close()
        for w in list(self.writers):
            w.transport.abort()
        await asyncio.sleep(0.05)

    async def restart(self) -> None:
        await self.stop()
        await self.start(self.port)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.add(writer)
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_close)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ")
                headers = [(n.strip(), v.strip()) for n, _, v in (x.partition(":") for x in lines[1:] if x)]
                h = {n.lower(): v for n, v in headers}
                self.requests += 1
                if not await self.route(method, target, version, headers, h, reader, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.writers.discard(writer)
            writer.close()

    async def route(self, method: str, target: str, version: str, headers: list[tuple[str, str]],
                    h: dict[str, str], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        path, _, query = target.partition("?")
        q = dict(parse_qsl(query))
        tag = f"x-backend: {self.name}\r\n"
        if path == "/echo":  # streams each request piece straight back as a chunk
            writer.write(f"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{tag}\r\n".encode())
            async for piece in read_body(reader, h):
                writer.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            return True
        if path == "/early":  # answers before reading the body, then reads and drops it (as nginx's `return`)
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n{tag}\r\nearly\n".encode())
            await writer.drain()
            async for _ in read_body(reader, h):
                pass
            return True
        body = b"".join([p async for p in read_body(reader, h)])
        if path == "/ws" and h.get("upgrade"):  # switch protocols, then echo raw bytes until EOF
            writer.write(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: {h['upgrade']}\r\nConnection: Upgrade\r\n"
                         f"{tag}\r\nhello from {self.color}\n".encode())
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            return False
        if path == "/slow":  # chunked, `chunks` pieces spread over `seconds`
            n, secs = int(q.get("chunks", "10")), float(q.get("seconds", "1"))
            writer.write(f"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{tag}\r\n".encode())
            for i in range(n):
                piece = f"{self.color}-{i}\n".encode()
                writer.write(b"%x\r\n%b\r\n" % (len(piece), piece))
                await writer.drain()
                await asyncio.sleep(secs / n)
            writer.write(b"0\r\n\r\n")
            return True
        if path == "/headers" or "dump" in q:
            out = json.dumps({"method": method, "target": target, "version": version, "headers": headers,
                              "body": len(body)}).encode()
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(out)}\r\n{tag}\r\n".encode() + out)
            return True
        if path == "/die":  # promises 1000 bytes, sends 10, dies
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n{tag}\r\n".encode() + b"x" * 10)
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.transport.abort()
            return False
        if path == "/nolength":  # body delimited by closing the connection
            writer.write(f"HTTP/1.1 200 OK\r\nConnection: close\r\n{tag}\r\n".encode() + self.color.encode() * 100)
            return False
        if path == "/close":
            out = f"{self.color}\n".encode()
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(out)}\r\nConnection: close\r\n"
                         f"Keep-Alive: timeout=5\r\nX-Hop: 1\r\nConnection: x-hop\r\n{tag}\r\n".encode() + out)
            return False
        if path == "/extra":  # a whole answer, then one nobody asked for: it must never reach a client
            out = f"{self.color}\n".encode()
            evil = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nx-backend: evil\r\n\r\nEVIL\n"
            how = q.get("how", "same")
            if how == "chunked":
                resp = (f"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n{tag}\r\n".encode()
                        + b"%x\r\n%b\r\n0\r\n\r\n" % (len(out), out))
            else:
                resp = f"HTTP/1.1 200 OK\r\nContent-Length: {len(out)}\r\n{tag}\r\n".encode()
                if method != "HEAD" or how == "headbody":  # headbody: a body after a HEAD answer is extra too
                    resp += out
            if how == "after":  # later, while the connection sits in the proxy's pool
                writer.write(resp)
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(evil)
            else:
                writer.write(resp + evil)
            return True
        if path == "/crlf":  # an answer after an empty line: not a status line, so not an interim 1xx either
            writer.write(f"\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n{tag}\r\nEVIL\n".encode())
            return True
        if path == "/nolength-reset":  # close-delimited body cut by a reset: the client must see an error
            writer.write(f"HTTP/1.1 200 OK\r\n{tag}\r\n".encode() + self.color.encode() * 100)
            await writer.drain()
            await asyncio.sleep(0.1)
            reset(writer)
            return False
        if path == "/stall":  # 50 of 100 bytes, then silence
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n{tag}\r\n".encode() + b"s" * 50)
            await writer.drain()
            await asyncio.sleep(30)
            return False
        if path == "/hang":  # never answers
            await asyncio.sleep(30)
            return False
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            writer.write(f"HTTP/1.1 {code} Whatever\r\nContent-Length: 0\r\n{tag}\r\n".encode())
            return True
        if path == "/big":
            out = (self.color.encode() + b"\n") * (int(q.get("n", "100000")) // (len(self.color) + 1))
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(out)}\r\n{tag}\r\n".encode() + out)
            await writer.drain()
            return True
        out = f"{self.color}\n".encode()
        extra = "" if method == "HEAD" else out.decode()
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(out)}\r\nConnection: keep-alive\r\n{tag}\r\n"
                     f"{extra}".encode())
        return True


def reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (SO_LINGER 0), like a crashed process with unread data."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass
class Upstreams:
    loop: asyncio.AbstractEventLoop
    blue: list[Upstream]
    green: list[Upstream]

    def all(self) -> list[Upstream]:
        return [*self.blue, *self.green]


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    ups = Upstreams(loop, [Upstream("blue", "blue1"), Upstream("blue", "blue2")],
                    [Upstream("green", "green1"), Upstream("green", "green2")])
    for u in ups.all():
        asyncio.run_coroutine_threadsafe(u.start(), loop).result(5)
    yield ups

    async def shutdown() -> None:
        for u in ups.all():
            assert u.server is not None
            u.server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture(autouse=True)
def _reset_upstreams(upstreams: Upstreams) -> None:
    for u in upstreams.all():
        u.idle_close = None


# -- raw HTTP/1.1 client -------------------------------------------------------------------------------------

@dataclass
class Resp:
    status: int
    headers: dict[str, str]
    body: bytes
    raw_head: bytes = b""

    @property
    def color(self) -> str:
        return self.headers.get("x-turnout-color", "")


class Client:
    """One client connection; requests are written by hand so tests control every byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Client:
        r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(r, w)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(self, method: str = "GET", path: str = "/", headers: dict[str, str] | None = None,
                      body: bytes | None = None, version: str = "HTTP/1.1", timeout: float = 10) -> Resp:
        hdrs = {"Host": "test", **(headers or {})}
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
        head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
        await self.send(head.encode() + (body or b""))
        return await self.response(method, timeout)

    async def response(self, method: str = "GET", timeout: float = 10) -> Resp:
        async with asyncio.timeout(timeout):
            head = await self.reader.readuntil(b"\r\n\r\n")
            status, headers = parse_head(head)
            if 100 <= status < 200:
                return await self.response(method, timeout)
            return Resp(status, headers, await self.body(method, status, headers), head)

    async def body(self, method: str, status: int, headers: dict[str, str]) -> bytes:
        if method == "HEAD" or status in (204, 304):
            return b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    return b"".join(parts)
                parts.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
        if "content-length" in headers:
            return await self.reader.readexactly(int(headers["content-length"]))
        return await self.reader.read()

    async def closed(self, timeout: float = 5) -> bool:
        """True once the proxy closed this connection (EOF or reset)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    if not await self.reader.read(65536):
                        return True
        except ConnectionError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.writer.close()


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def get(port: int, path: str = "/", **kw: Any) -> Resp:
    c = await Client.open(port)
    try:
        return await c.request(path=path, **kw)
    finally:
        c.close()


# -- the proxy process ---------------------------------------------------------------------------------------

@dataclass
class Proxy:
    proc: subprocess.Popen[bytes]
    production: int
    test: int
    admin: str
    dir: Path
    args: list[str] = field(default_factory=list)

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    def api(self, token: str | None = TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if self.admin.startswith("unix:"):
            return httpx.AsyncClient(base_url="http://proxy", headers=headers, timeout=5,
                                     transport=httpx.AsyncHTTPTransport(uds=self.admin.removeprefix("unix:")))
        return httpx.AsyncClient(base_url=f"http://{self.admin}", headers=headers, timeout=5)

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        async with self.api() as api:
            resp = await api.request(method, path, json=body)
        assert resp.status_code == 200, resp.text
        return resp.json()

    async def backends(self, **colors: list[str]) -> Any:
        return await self.call("PUT", "/backends", colors)

    async def route(self, blue: int, green: int) -> Any:
        return await self.call("PUT", "/route", {"weights": {"blue": blue, "green": green}})

    async def state(self) -> Any:
        return await self.call("GET", "/state")

    async def metrics(self) -> str:
        async with self.api() as api:
            return (await api.get("/metrics")).text

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise


StartProxy = Callable[..., Awaitable[Proxy]]


@pytest.fixture
async def start_proxy(tmp_path: Path) -> AsyncIterator[StartProxy]:
    procs: list[Proxy] = []
    (tmp_path / "token").write_text(TOKEN + "\n")

    async def start(*extra: str, admin: str | None = None, ports: tuple[int, int] | None = None,
                    wait: bool = True, nofile: int | None = None) -> Proxy:
        # a low descriptor limit (soft and hard) for the proxy process only
        limit = ["prlimit", f"--nofile={nofile}:{nofile}"] if nofile else []

        for _ in range(3):  # a free port can be taken by a parallel test before the proxy binds it
            prod, test = ports or (free_port(), free_port())
            adm = admin or f"127.0.0.1:{free_port()}"
            args = [*limit, sys.executable, "-m", "turnout.proxy", "--production", f"127.0.0.1:{prod}",
                    "--test", f"127.0.0.1:{test}", "--admin", adm, "--token-file", str(tmp_path / "token"),
                    "--state-file", str(tmp_path / "state.json"), *extra]
            proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
            p = Proxy(proc, prod, test, adm, tmp_path, args)
            procs.append(p)
            if not wait:
                return p
            for _ in range(200):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    async with p.api(None) as api:
                        if (await api.get("/healthz")).status_code == 200:
                            return p
                await asyncio.sleep(0.025)
            if proc.poll() is None or ports:
                break
        raise RuntimeError(f"proxy did not start: {p.proc.stderr.read() if p.proc.stderr else ''!r}")

    yield start
    for p in procs:
        if p.proc.poll() is None:
            p.proc.kill()
        p.proc.wait(5)
        if p.proc.stderr:
            p.proc.stderr.close()


@pytest.fixture
async def proxy(start_proxy: StartProxy, upstreams: Upstreams) -> Proxy:
    """A proxy with blue1 and green1 as backends, all production traffic on blue."""
    p = await start_proxy()
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    return p
