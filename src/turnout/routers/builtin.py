"""Driver for the builtin proxy (`python -m turnout.proxy`): starts/adopts it and talks to its admin API."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from turnout.config import DriverEnv, Duration, RouterConfig
from turnout.errors import RouterError
from turnout.infra.files import secret_file
from turnout.measure import web
from turnout.model import Color, ColorTraffic, Endpoint, RouteState, Traffic, Weights
from turnout.routers.owned import OwnedRouter


class BuiltinOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    manage: bool = Field(default=True, description="start and own the proxy process; False = attach to a running one")
    workers: int = Field(default=1, ge=1, le=64, description="proxy processes sharing the listeners")
    start_timeout: Duration = Field(default=10.0, gt=0, description="how long the proxy may take to answer at start")
    header_timeout: Duration = Field(default=10.0, gt=0, description="a client must send a whole request head within "
                                                                     "this (slowloris)")
    idle_timeout: Duration = Field(default=60.0, gt=0, description="a keep-alive client connection may idle this long")
    body_timeout: Duration = Field(default=10.0, gt=0, description="a request body may pause this long")
    body_min_rate: float = Field(default=512.0, ge=0, description="bytes per second a request body must keep up "
                                                                  "(0: off)")
    write_timeout: Duration = Field(default=60.0, gt=0, description="a client that reads nothing of its answer is cut "
                                                                    "after this")
    connect_timeout: Duration = Field(default=3.0, gt=0, description="to an instance")
    upstream_timeout: Duration = Field(default=60.0, gt=0, description="an instance may be silent this long, before "
                                                                       "or within its answer")
    max_connections: int = Field(default=0, ge=0, description="client connections per listener; beyond it 503 with "
                                                              "Retry-After (0: as many as descriptors allow)")
    admin_max_connections: int = Field(default=16, ge=1, le=1024, description="connections to the admin API")

    def argv(self) -> list[str]:
        """The proxy's command-line options for these settings."""
        keys = ("workers", "header_timeout", "idle_timeout", "body_timeout", "body_min_rate", "write_timeout",
                "connect_timeout", "upstream_timeout", "max_connections", "admin_max_connections")
        return [arg for k in keys for arg in (f"--{k.replace('_', '-')}", str(getattr(self, k)))]


class BuiltinRouter(OwnedRouter[BuiltinOptions]):
    kind = "builtin"
    can_split = True
    Options = BuiltinOptions
    process_name = "proxy"  # `python -m turnout.proxy`; its files sit in the state folder itself

    def __init__(self, *, section: RouterConfig, options: BuiltinOptions, folder: Path) -> None:
        super().__init__(section=section, options=options, folder=folder)
        self.token_file = folder / "proxy.token"
        self._token = section.token
        self._pooled: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient] | None = None

    @classmethod
    def default_folder(cls, env: DriverEnv) -> Path:
        return env.state_dir

    @property
    def production_url(self) -> str:
        return f"http://{self.production}"

    @property
    def test_url(self) -> str:
        return f"http://{self.test}"

    # -- admin API ---------------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            self._token = secret_file(self.token_file)
        return self._token

    def _shared(self) -> httpx.AsyncClient:
        """One pooled client per event loop: a new httpx client costs milliseconds a switch can't spare."""
        loop = asyncio.get_running_loop()
        if self._pooled is None or self._pooled[0] is not loop:
            self._pooled = (loop, self._client())
        return self._pooled[1]

    def _client(self, timeout: float = 5.0) -> httpx.AsyncClient:
        if self.admin.startswith("unix:"):
            transport = web.transport(uds=self.admin.removeprefix("unix:"))
            base = "http://proxy"
        else:
            transport, base = web.transport(), f"http://{self.admin}"
        return web.async_client(base_url=base, transport=transport, timeout=timeout,
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
        self.token()
        self.process.start([
            sys.executable, "-m", "turnout.proxy", "--production", self.production, "--test", self.test,
            "--admin", self.admin, "--token-file", str(self.token_file),
            "--state-file", str(self.folder / "proxy-state.json"), "--drain", str(self.drain),
            # the agent's store holds the desired routes and sets them right after the start: a damaged state
            # file is kept aside, not a reason to leave production without a proxy; until then the proxy serves
            # the split it last had, never its default (all to blue), which may be the old release
            "--damaged-state", "set-aside", *self._initial(), *self.options.argv()])
        await self.process.wait_ready(self.alive, self.options.start_timeout)

    def _initial(self) -> list[str]:
        w = self._seen
        return [] if w is None else ["--initial-weights", f"{w.of(Color.BLUE)},{w.of(Color.GREEN)}"]

    # -- Router protocol ------------------------------------------------------------------------
    async def _prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        await self._ensure_running()
        await self._call("PUT", "/backends", {c.value: [e.address for e in eps] for c, eps in backends.items()})

    async def route(self, weights: Weights) -> None:
        await self._call("PUT", "/route", {"weights": weights.as_dict()})
        self._seen = weights

    async def observe(self) -> RouteState:
        s = await self._call("GET", "/state")
        self._seen = weights = Weights(**s["weights"])
        return RouteState(
            weights=weights, test_color=Color(s["test"]),
            backends={Color(c): tuple(Endpoint.parse(a) for a in addrs) for c, addrs in s["backends"].items()},
            production_url=self.production_url, test_url=self.test_url)

    async def traffic(self) -> Traffic:
        data = await self._call("GET", "/traffic")
        return Traffic(time.monotonic(), tuple(data["bounds"]), {
            Color(c): ColorTraffic(int(v["requests"]), int(v["errors"]), tuple(v["buckets"]))
            for c, v in data["colors"].items()})

    async def metrics(self) -> str:
        try:
            async with self._client() as client:
                return (await client.get("/metrics")).text
        except httpx.HTTPError as exc:
            raise RouterError(f"builtin proxy metrics not reachable: {exc}") from None

    async def release(self) -> None:
        """Stop the proxy we started (SIGTERM lets in-flight requests finish, up to the drain)."""
        if self._pooled is not None:
            await self._pooled[1].aclose()
            self._pooled = None
        if self.options.manage:
            await self.process.stop(self.drain + 5)
