"""Driver for the builtin proxy (`python -m turnout.proxy`): starts/adopts it and talks to its admin API."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import httpx
from pydantic import BaseModel, ConfigDict

from turnout.config import Config, parse_options
from turnout.errors import RouterError
from turnout.infra.procs import pid_alive, reap
from turnout.model import Color, Endpoint, RouteState, Weights


class BuiltinOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    manage: bool = True  # start and own the proxy process; False = attach to a running one
    workers: int = 1
    header_timeout: float = 10.0
    start_timeout: float = 10.0


class BuiltinRouter:
    kind = "builtin"
    can_split = True

    def __init__(self, production: str, test: str, admin: str, state_dir: Path, *, token: str | None = None,
                 drain: float = 30.0, options: BuiltinOptions | None = None) -> None:
        self.production, self.test, self.admin = production, test, admin
        self.dir = state_dir
        self.drain = drain
        self.options = options or BuiltinOptions()
        self.token_file = self.dir / "proxy.token"
        self.pid_file = self.dir / "proxy.pid"
        self._token = token
        self._pooled: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None

    @classmethod
    def from_config(cls, cfg: Config) -> Self:
        r = cfg.router
        return cls(r.production, r.test, r.admin, cfg.state_dir(), token=r.token, drain=r.drain,
                   options=parse_options(BuiltinOptions, r.options, "router.options"))

    @property
    def production_url(self) -> str:
        return f"http://{self.production}"

    @property
    def test_url(self) -> str:
        return f"http://{self.test}"

    # -- admin API ---------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            if not self.token_file.exists():
                self.dir.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as f:
                    f.write(secrets.token_urlsafe(24))
            self._token = self.token_file.read_text().strip()
        return self._token

    def _shared(self) -> httpx.AsyncClient:
        """One pooled client per event loop: a new httpx client costs milliseconds a switch can't spare."""
        loop = asyncio.get_running_loop()
        if self._pooled is None or self._pooled[0] is not loop:
            self._pooled = (loop, self._client())
        return self._pooled[1]

    def _client(self, timeout: float = 5.0) -> httpx.AsyncClient:
        if self.admin.startswith("unix:"):
            transport = httpx.AsyncHTTPTransport(uds=self.admin.removeprefix("unix:"))
            base = "http://proxy"
        else:
            transport, base = httpx.AsyncHTTPTransport(), f"http://{self.admin}"
        return httpx.AsyncClient(base_url=base, transport=transport, timeout=timeout,
                                 headers={"Authorization": f"Bearer {self.token()}"})

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        try:
            resp = await self._shared().request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise RouterError(f"builtin proxy admin API at {self.admin} is not reachable: {exc or type(exc).__name__}",
                              hint="is the agent running? `turnout up --detach`") from None
        if resp.status_code != 200:
            raise RouterError(f"builtin proxy refused {method} {path}: HTTP {resp.status_code} {resp.text[:200]}")
        data: dict[str, Any] = resp.json()
        return data

    async def alive(self) -> bool:
        try:
            async with self._client(timeout=1.0) as client:
                return (await client.get("/healthz")).status_code == 200
        except httpx.HTTPError:
            return False

    # -- process ------------------------------------------------------------------------------
    async def _ensure_running(self) -> None:
        if await self.alive():
            return
        if not self.options.manage:
            raise RouterError(f"builtin proxy at {self.admin} is not running and router.options.manage is false")
        logs = self.dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.token()
        cmd = [sys.executable, "-m", "turnout.proxy", "--production", self.production, "--test", self.test,
               "--admin", self.admin, "--token-file", str(self.token_file),
               "--state-file", str(self.dir / "proxy-state.json"), "--drain", str(self.drain),
               "--workers", str(self.options.workers), "--header-timeout", str(self.options.header_timeout)]
        with open(logs / "proxy.log", "ab") as log:
            # Own session: the proxy outlives a crashed agent, which adopts it on restart.
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + self.options.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (logs / "proxy.log").read_text(errors="replace").strip().splitlines()[-3:]
                raise RouterError(f"builtin proxy exited at start (code {proc.returncode}): {' | '.join(tail)}")
            if await self.alive():
                return
            await asyncio.sleep(0.05)
        raise RouterError(f"builtin proxy did not answer on {self.admin} within {self.options.start_timeout}s")

    # -- Router protocol ------------------------------------------------------------------------
    async def prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        await self._ensure_running()
        await self._call("PUT", "/backends", {c.value: [e.address for e in eps] for c, eps in backends.items()})

    async def route(self, weights: Weights) -> None:
        await self._call("PUT", "/route", {"weights": weights.as_dict()})

    async def observe(self) -> RouteState:
        s = await self._call("GET", "/state")
        return RouteState(
            weights=Weights(**s["weights"]), test_color=Color(s["test"]),
            backends={Color(c): tuple(Endpoint.parse(a) for a in addrs) for c, addrs in s["backends"].items()},
            production_url=self.production_url, test_url=self.test_url)

    async def metrics(self) -> str:
        try:
            async with self._client() as client:
                return (await client.get("/metrics")).text
        except httpx.HTTPError as exc:
            raise RouterError(f"builtin proxy metrics not reachable: {exc}") from None

    async def release(self) -> None:
        """Stop the proxy we started (SIGTERM lets in-flight requests finish)."""
        if self._pooled is not None:
            await self._pooled[1].aclose()
            self._pooled = None
        if not self.options.manage or not self.pid_file.exists():
            return
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, signal.SIGTERM)
        except (ValueError, ProcessLookupError):
            self.pid_file.unlink(missing_ok=True)
            return
        deadline = time.monotonic() + self.drain + 5
        while pid_alive(pid):  # a zombie counts as gone; reap() below collects it
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                break
            await asyncio.sleep(0.05)
        reap(pid)
        self.pid_file.unlink(missing_ok=True)
