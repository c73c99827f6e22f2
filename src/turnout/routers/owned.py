"""Router processes turnout owns, and a tiny HTTP client for their admin APIs.

An owned router runs in its own session (it outlives the turnout command that started it) and
is found again through a pid file in the driver's folder, so `prepare()` from a later command
adopts it instead of starting a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import ClassVar, Generic, Self, TypeVar, cast

from pydantic import BaseModel

from turnout.config import Config
from turnout.errors import RouterError
from turnout.infra import procs
from turnout.infra.files import tail
from turnout.routers.base import parse_options

OptionsT = TypeVar("OptionsT", bound=BaseModel)

_children: dict[int, subprocess.Popen[bytes]] = {}  # started here: poll() reaps them, so no zombies


def alive(pid: int, name: str = "") -> bool:
    """True if `pid` runs and is not a zombie (and its command line mentions `name`: pids get reused)."""
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None  # poll() also reaps it
    return procs.runs(pid, name)


class OwnedProcess:
    def __init__(self, folder: Path, name: str) -> None:
        self.name = name
        self.pidfile = folder / f"{name}.pid"
        self.logfile = folder / f"{name}.log"

    @property
    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if alive(pid, self.name) else None

    def start(self, argv: Sequence[str]) -> int:
        self.pidfile.parent.mkdir(parents=True, exist_ok=True)
        with open(self.logfile, "ab") as log:
            try:
                proc = subprocess.Popen(
                    list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
                )
            except OSError as exc:
                raise RouterError(f"cannot start {self.name} ({argv[0]}): {exc}",
                                  hint="run scripts/install-servers.sh") from None
        _children[proc.pid] = proc
        self.pidfile.write_text(f"{proc.pid}\n")
        return proc.pid

    async def wait_ready(self, ready: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.pid is None:
                raise RouterError(f"{self.name} exited while starting:\n{tail(self.logfile)}")
            if await ready():
                return
            await asyncio.sleep(0.02)
        await self.stop(0)
        raise RouterError(f"{self.name} did not become ready within {seconds:g}s:\n{tail(self.logfile)}")

    async def stop(self, grace: float, sig: signal.Signals = signal.SIGTERM) -> None:
        """Signal the whole process group (master and workers), then SIGKILL after `grace` seconds."""
        pid = self.pid
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + grace
        while alive(pid, self.name) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        for _ in range(250):  # bounded: SIGKILL is quick
            if not alive(pid, self.name):
                break
            await asyncio.sleep(0.02)
        _children.pop(pid, None)
        self.pidfile.unlink(missing_ok=True)


async def http(
    address: str, method: str, path: str, *, body: bytes = b"", wait: float = 5.0,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One HTTP/1.0 request to `host:port` or `unix:/path`, connection closed after: admin calls are rare."""
    async def go() -> tuple[int, bytes]:
        if address.startswith("unix:"):
            reader, writer = await asyncio.open_unix_connection(address.removeprefix("unix:"))
            host = "localhost"
        else:
            host, _, port = address.rpartition(":")
            reader, writer = await asyncio.open_connection(host, int(port))
        try:
            extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
            head = (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
                    f"Content-Length: {len(body)}\r\n{extra}\r\n")
            writer.write(head.encode() + body)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        head_bytes, _, payload = data.partition(b"\r\n\r\n")
        parts = head_bytes.split(b"\r\n", 1)[0].split()
        if len(parts) < 2 or not parts[1].isdigit():
            raise OSError(f"not an HTTP response: {head_bytes[:80]!r}")
        if b"transfer-encoding: chunked" in head_bytes.lower():
            payload = _dechunk(payload)
        return int(parts[1]), payload

    return await asyncio.wait_for(go(), wait)


def _dechunk(data: bytes) -> bytes:
    out, pos = [], 0
    while pos < len(data):
        line_end = data.index(b"\r\n", pos)
        size = int(data[pos:line_end].split(b";")[0], 16)
        if size == 0:
            break
        out.append(data[line_end + 2:line_end + 2 + size])
        pos = line_end + 2 + size + 2
    return b"".join(out)


class OwnedRouter(Generic[OptionsT]):
    """What the drivers that start and own their router process share: ports, drain, options, folder."""

    kind: ClassVar[str]
    options_model: ClassVar[type[BaseModel]]

    def __init__(self, *, production: str, test: str, admin: str, drain: float, options: OptionsT,
                 folder: Path) -> None:
        self.production, self.test, self.admin, self.drain = production, test, admin, drain
        self.options, self.folder = options, folder
        self.process = OwnedProcess(folder, self.kind)

    @classmethod
    def from_config(cls, cfg: Config) -> Self:
        opts = cast(OptionsT, parse_options(cls.options_model, cfg.router.options))
        custom: str | None = getattr(opts, "dir", None)
        folder = cfg.base_dir / custom if custom else cfg.state_dir() / cls.kind
        return cls(production=cfg.router.production, test=cfg.router.test, admin=cfg.router.admin,
                   drain=cfg.router.drain, options=opts, folder=folder.resolve())

    @property
    def pid(self) -> int | None:
        return self.process.pid
