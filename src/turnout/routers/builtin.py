"""Driver for the builtin proxy (`python -m turnout.proxy`): starts/adopts it and talks to its admin API."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from turnout.config import DriverEnv, RouterConfig
from turnout.errors import RouterError
from turnout.infra.files import secret_file
from turnout.model import Color, Endpoint, RouteState, Weights
from turnout.routers.owned import OwnedRouter


class BuiltinOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    manage: bool = Field(default=True, description="start and own the proxy process; False = attach to a running one")
    workers: int = 1
    header_timeout: float = 10.0
    start_timeout: float = 10.0


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
        self.token()
        self.process.start([
            sys.executable, "-m", "turnout.proxy", "--production", self.production, "--test", self.test,
            "--admin", self.admin, "--token-file", str(self.token_file),
            "--state-file", str(self.folder / "proxy-state.json"), "--drain", str(self.drain),
            "--workers", str(self.options.workers), "--header-timeout", str(self.options.header_timeout)])
        await self.process.wait_ready(self.alive, self.options.start_timeout)

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
        """Stop the proxy we started (SIGTERM lets in-flight requests finish, up to the drain)."""
        if self._pooled is not None:
            await self._pooled[1].aclose()
            self._pooled = None
        if self.options.manage:
            await self.process.stop(self.drain + 5)
