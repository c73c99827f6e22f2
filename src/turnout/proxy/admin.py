"""Admin API: HTTP/1.1 JSON over loopback TCP or a unix socket, bearer token on everything but /healthz.

Not the hot path, so asyncio streams and plain parsing are fine. Every change is written to the state file
before it is applied, then the new state is returned; when the response is sent the change is in effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import stat
from typing import Any, Protocol

from turnout.proxy import state

log = logging.getLogger("turnout.proxy")
MAX_BODY = 1024 * 1024
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
           411: "Length Required", 413: "Payload Too Large", 500: "Internal Server Error"}
ROUTES = {"/healthz": ("GET",), "/state": ("GET",), "/metrics": ("GET",), "/traffic": ("GET",),
          "/backends": ("PUT",), "/route": ("PUT",)}


class Control(Protocol):
    """What the admin API drives: the data plane of this process, or of all workers."""

    async def apply(self, weights: tuple[int, int] | None, backends: dict[str, list[str]] | None,
                    generation: int) -> None: ...

    async def view(self) -> dict[str, Any]: ...

    async def metrics(self) -> str: ...

    async def traffic(self) -> dict[str, Any]: ...


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Admin:
    def __init__(self, control: Control, token: str, state_file: str, saved: dict[str, Any], *,
                 header_timeout: float = 10.0, idle_timeout: float = 60.0, max_connections: int = 16) -> None:
        self.control = control
        self.token = ("Bearer " + token).encode()
        self.state_file = state_file
        self.saved = saved  # what the state file holds: weights, backends, generation
        self.lock = asyncio.Lock()  # one change at a time: file and memory stay in the same order
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max(1, max_connections)
        # open connections, oldest first -> True while one waits for a request (and may be evicted)
        self.conns: dict[asyncio.StreamWriter, bool] = {}

    def _admit(self, writer: asyncio.StreamWriter) -> bool:
        """A small cap, so the admin port can't eat the proxy's descriptors; at the cap the oldest connection
        that is only waiting (silent, or idle between requests) makes room, so a real caller always gets in."""
        if len(self.conns) >= self.max_connections:
            victim = next((w for w, waiting in self.conns.items() if waiting), None)
            if victim is None:
                return False
            del self.conns[victim]
            victim.transport.abort()
        self.conns[writer] = True
        return True

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._admit(writer):
            writer.transport.abort()
            return
        timeout = self.header_timeout
        try:
            while True:
                self.conns[writer] = True
                try:
                    # the whole head within the header timeout; between requests, the idle timeout
                    async with asyncio.timeout(timeout):
                        head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, TimeoutError):
                    return
                if writer not in self.conns:  # evicted meanwhile
                    return
                self.conns[writer] = False
                async with asyncio.timeout(self.header_timeout + 30):  # body, the change itself, the answer
                    keep = await self._one(head, reader, writer)
                    await writer.drain()
                if not keep:
                    return
                timeout = self.idle_timeout
        except (asyncio.LimitOverrunError, ConnectionError, ValueError, TimeoutError):
            return
        finally:
            self.conns.pop(writer, None)
            writer.close()

    async def _one(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        keep = headers.get("connection", "").lower() != "close" and parts[-1] == "HTTP/1.1"
        ctype = "application/json"
        try:
            if len(parts) != 3:
                raise HttpError(400, "malformed request line")
            if "transfer-encoding" in headers:
                raise HttpError(411, "send a Content-Length")
            length = int(headers.get("content-length", "0") or "0")
            if not 0 <= length <= MAX_BODY:
                raise HttpError(413, "body too large")
            body = await reader.readexactly(length) if length else b""
            status, payload = 200, await self._dispatch(parts[0], parts[1].split("?")[0], headers, body)
            if isinstance(payload, str):
                ctype = "text/plain; version=0.0.4; charset=utf-8"
        except HttpError as err:
            status, payload = err.status, {"error": str(err)}
        except (ValueError, UnicodeDecodeError):
            status, payload, keep = 400, {"error": "malformed request"}, False
        except Exception as err:  # a bug must not take the admin API down with it
            log.exception("admin request failed")
            status, payload, keep = 500, {"error": f"internal error: {err!r}"}, False
        data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
        extra = 'WWW-Authenticate: Bearer realm="turnout-proxy"\r\n' if status == 401 else ""
        if not keep:
            extra += "Connection: close\r\n"
        writer.write(f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: {ctype}\r\n"
                     f"Content-Length: {len(data)}\r\n{extra}\r\n".encode() + data)
        return keep

    async def _dispatch(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Any:
        if path not in ROUTES:
            raise HttpError(404, f"no such endpoint: {path}")
        if method not in ROUTES[path]:
            raise HttpError(405, f"{path} takes {' or '.join(ROUTES[path])}")
        if path == "/healthz":
            return {"ok": True}
        if not hmac.compare_digest(headers.get("authorization", "").encode(), self.token):
            raise HttpError(401, "missing or wrong bearer token")
        if path == "/state":
            return await self.control.view()
        if path == "/metrics":
            return await self.control.metrics()
        if path == "/traffic":
            return await self.control.traffic()
        try:
            data = json.loads(body)
        except ValueError:
            raise HttpError(400, "body is not valid JSON") from None
        try:
            if path == "/route":
                if not isinstance(data, dict) or set(data) != {"weights"}:
                    raise ValueError('body must be {"weights": {"blue": N, "green": M}}')
                return await self.change(weights=state.parse_weights(data["weights"]))
            return await self.change(backends=state.parse_backends(data))
        except ValueError as err:
            raise HttpError(400, str(err)) from None

    async def change(self, weights: tuple[int, int] | None = None,
                     backends: dict[str, list[str]] | None = None) -> dict[str, Any]:
        async with self.lock:
            new = {**self.saved, "generation": self.saved["generation"] + 1}
            if weights is not None:
                new["weights"] = dict(zip(state.COLORS, weights, strict=True))
            if backends is not None:
                new["backends"] = {**self.saved["backends"], **backends}
            try:
                await asyncio.to_thread(state.save, self.state_file, new)
            except OSError as err:
                raise HttpError(500, f"cannot write state file: {err}") from None
            self.saved = new
            await self.control.apply(weights, backends, new["generation"])
            log.info("applied generation %d: weights=%s backends=%s", new["generation"], new["weights"],
                     new["backends"])
        return await self.control.view()


async def start(admin: Admin, address: str) -> asyncio.AbstractServer:
    """Listen on `host:port` or `unix:/path` (a stale socket file from a dead proxy is replaced)."""
    if address.startswith("unix:"):
        path = address.removeprefix("unix:")
        try:
            _, w = await asyncio.open_unix_connection(path)
        except FileNotFoundError:
            pass
        except OSError:
            if not stat.S_ISSOCK(os.stat(path).st_mode):
                raise OSError(f"admin socket path {path} exists and is not a socket") from None
            os.unlink(path)  # a socket file nobody listens on: left by a proxy that died
        else:
            w.close()
            raise OSError(f"admin socket {path} is in use by a running process")
        server = await asyncio.start_unix_server(admin.handle, path, limit=64 * 1024)
        with contextlib.suppress(OSError):
            os.chmod(path, 0o600)
        return server
    host, port = split_hostport(address)
    return await asyncio.start_server(admin.handle, host, port, limit=64 * 1024, reuse_address=True)


def split_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"{text!r} is not host:port")
    return host.strip("[]") or "127.0.0.1", int(port)
