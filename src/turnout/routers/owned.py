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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import BaseModel

from turnout.config import DriverEnv, RouterConfig
from turnout.errors import RouterError
from turnout.infra import procs
from turnout.infra.files import tail
from turnout.model import Color, Endpoint, Weights

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
    """What the drivers that start and own their router process share: the [router] section, the
    options, a folder of their own (`options.dir`, else <state>/<kind>) and the process in it."""

    kind: ClassVar[str]
    Options: ClassVar[type[BaseModel]]
    process_name: ClassVar[str | None] = None  # the pid/log file name and what its command line shows

    def __init__(self, *, section: RouterConfig, options: OptionsT, folder: Path) -> None:
        self.production, self.test, self.admin, self.drain = section.production, section.test, section.admin, \
            section.drain
        self.section, self.options, self.folder = section, options, folder
        self.process = OwnedProcess(folder, self.process_name or self.kind)
        self._preparing = asyncio.Lock()
        self._seen: Weights | None = None  # the split the router last served or was given (route, observe)

    def restart_split(self) -> Weights:
        """What a router restarted without its own state must serve until the agent routes it: the split it
        last had, never a default color (all to blue may be the old release)."""
        return self._seen or Weights.all_to(Color.BLUE)

    async def prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        """One at a time: the reconcile loop and a command may both find the router gone, and two
        starts would race for its ports (the loser's pid file would hide the winner)."""
        async with self._preparing:
            await self._prepare(backends)

    async def _prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        raise NotImplementedError

    @classmethod
    def from_options(cls, section: RouterConfig, options: Any, env: DriverEnv) -> Self:
        custom: str | None = getattr(options, "dir", None)
        folder = env.base_dir / custom if custom else cls.default_folder(env)
        return cls(section=section, options=options, folder=folder.resolve())

    @classmethod
    def default_folder(cls, env: DriverEnv) -> Path:
        return env.state_dir / cls.kind

    @property
    def pid(self) -> int | None:
        return self.process.pid
