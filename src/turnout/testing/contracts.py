"""Public test helpers: color backends and the contract every Router driver must pass.

A third-party driver reuses the contract by subclassing it in its own tests:

    class TestMyRouter(RouterContract):
        router_class = MyRouter

The contract starts small HTTP backends (`blue\\n` / `green\\n` on `/`, `<color> <port>\\n` on
`/whoami`, a response streamed over ~1 s on `/slow`), builds a Config on free loopback ports and
drives the router through prepare/route/observe/release against real traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
import pytest_asyncio

from turnout.config import AppConfig, Config, RouterConfig, StateConfig
from turnout.errors import RouterError
from turnout.infra.procs import free_port
from turnout.model import Color, Weights
from turnout.testing import router_from_config
from turnout.testing.backends import SLOW_CHUNKS, ColorBackends, colors


class RouterContract:
    """What every Router must do, checked on a real router process with real HTTP traffic."""

    router_class: ClassVar[type[Any]]
    restartable: ClassVar[bool] = True  # prepare() after a crash starts the router again (owned routers)
    drain: ClassVar[float] = 3.0

    # -- hooks a subclass may override ---------------------------------------------------------
    @pytest.fixture
    def router_options(self, tmp_path: Path) -> dict[str, Any]:
        return {}

    async def crash(self, router: Any) -> None:
        """Kill the router process without letting it clean up. Default: SIGKILL `router.pid`'s group."""
        pid = router.pid
        assert pid, "the router reports no pid: override crash() in the contract subclass"
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while router.pid is not None and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    # -- fixtures ------------------------------------------------------------------------------
    @pytest.fixture
    def backends(self) -> Iterator[ColorBackends]:
        with ColorBackends() as b:
            yield b

    @pytest.fixture
    def ports(self) -> tuple[int, int, int]:
        return free_port(), free_port(), free_port()

    @pytest.fixture
    def config(self, tmp_path: Path, ports: tuple[int, int, int], router_options: dict[str, Any]) -> Config:
        prod, test, admin = ports
        router = RouterConfig(kind=self.router_class.kind, production=f"127.0.0.1:{prod}", test=f"127.0.0.1:{test}",
                              admin=f"127.0.0.1:{admin}", drain=self.drain, options=router_options)
        return Config(app=AppConfig(name="contract"), router=router, state=StateConfig(path=str(tmp_path / "state")),
                      base_dir=tmp_path)

    @pytest_asyncio.fixture
    async def router(self, config: Config, backends: ColorBackends) -> AsyncIterator[Any]:
        router = router_from_config(self.router_class, config)
        try:
            await router.prepare(backends.endpoints)
            await router.route(Weights.all_to(Color.BLUE))
            yield router
        finally:
            await router.release()

    @pytest_asyncio.fixture
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(timeout=10) as c:
            yield c

    # -- the contract --------------------------------------------------------------------------
    async def test_switch_and_rollback(self, router: Any, client: httpx.AsyncClient) -> None:
        state = await router.observe()
        assert set(await colors(client, state.production_url, 10)) == {"blue"}
        await router.route(Weights.all_to(Color.GREEN))
        # the same keep-alive connection gets the new color on its very next request
        assert set(await colors(client, state.production_url, 10)) == {"green"}
        assert set(await colors(client, state.test_url, 5)) == {"blue"}
        await router.route(Weights.all_to(Color.BLUE))
        assert set(await colors(client, state.production_url, 10)) == {"blue"}
        assert set(await colors(client, state.test_url, 5)) == {"green"}

    async def test_weights(self, router: Any, client: httpx.AsyncClient) -> None:
        if not router.can_split:
            with pytest.raises(RouterError):
                await router.route(Weights(70, 30))
            return
        await router.route(Weights(70, 30))
        state = await router.observe()
        assert state.weights == Weights(70, 30)
        got = await colors(client, state.production_url, 400)
        assert 0.2 <= got.count("green") / len(got) <= 0.4, f"green share {got.count('green')}/400, asked 30%"
        await router.route(Weights(0, 100))
        assert set(await colors(client, state.production_url, 20)) == {"green"}

    async def test_test_endpoint_always_idle(self, router: Any, client: httpx.AsyncClient) -> None:
        splits = [Weights(100, 0), Weights(0, 100), Weights(100, 0)]
        if router.can_split:
            splits += [Weights(30, 70), Weights(70, 30), Weights(50, 50)]
        for weights in splits:
            await router.route(weights)
            state = await router.observe()
            idle = weights.dominant.other
            assert state.test_color is idle, f"{weights}: test endpoint on {state.test_color}"
            assert set(await colors(client, state.test_url, 6)) == {idle.value}, f"{weights}"

    async def test_observe_matches(self, router: Any, client: httpx.AsyncClient, backends: ColorBackends,
                                   config: Config) -> None:
        await router.route(Weights.all_to(Color.GREEN))
        state = await router.observe()
        assert state.weights == Weights(0, 100)
        assert state.test_color is Color.BLUE
        assert state.production_url == f"http://{config.router.production}"
        assert state.test_url == f"http://{config.router.test}"
        for color in Color:
            assert set(state.backends[color]) == set(backends.endpoints[color]), color
        seen = set(await colors(client, state.production_url, 8, "/whoami"))
        assert seen == {f"green {e.port}" for e in backends.endpoints[Color.GREEN]}
        assert await router.observe() == state

    async def test_replace_idle_instances(self, router: Any, client: httpx.AsyncClient,
                                          backends: ColorBackends) -> None:
        old_green = list(backends.endpoints[Color.GREEN])
        new_green = backends.add(Color.GREEN)
        await router.prepare({Color.BLUE: backends.endpoints[Color.BLUE], Color.GREEN: [new_green]})
        state = await router.observe()
        assert state.backends[Color.GREEN] == (new_green,)
        assert set(state.backends[Color.BLUE]) == set(backends.endpoints[Color.BLUE])
        assert set(await colors(client, state.test_url, 6, "/whoami")) == {f"green {new_green.port}"}
        assert set(await colors(client, state.production_url, 6)) == {"blue"}
        await router.prepare({Color.BLUE: backends.endpoints[Color.BLUE], Color.GREEN: old_green})
        assert set((await router.observe()).backends[Color.GREEN]) == set(old_green)

    async def test_prepare_one_color_leaves_the_other(self, router: Any, client: httpx.AsyncClient,
                                                      backends: ColorBackends) -> None:
        new_green = backends.add(Color.GREEN)
        await router.prepare({Color.GREEN: [new_green]})  # what a deploy to the idle color does
        state = await router.observe()
        assert state.backends[Color.GREEN] == (new_green,)
        assert set(state.backends[Color.BLUE]) == set(backends.endpoints[Color.BLUE])
        assert set(await colors(client, state.production_url, 6, "/whoami")) == {
            f"blue {e.port}" for e in backends.endpoints[Color.BLUE]}

    async def test_in_flight_request_drains(self, router: Any, client: httpx.AsyncClient) -> None:
        state = await router.observe()

        async def slow() -> tuple[int, str]:
            async with client.stream("GET", state.production_url + "/slow") as r:
                started.set()
                body = b"".join([chunk async for chunk in r.aiter_bytes()])
                return r.status_code, body.decode()

        started = asyncio.Event()
        task = asyncio.create_task(slow())
        await asyncio.wait_for(started.wait(), 5)
        await router.route(Weights.all_to(Color.GREEN))
        async with httpx.AsyncClient(timeout=10) as other:
            assert set(await colors(other, state.production_url, 5)) == {"green"}
        status, body = await asyncio.wait_for(task, 10)
        assert status == 200
        assert body == "blue\n" * 20 * SLOW_CHUNKS, f"in-flight response cut or mixed: {len(body)} bytes"

    async def test_hitless_under_keepalive_load(self, router: Any) -> None:
        state = await router.observe()
        failures: list[str] = []
        stop = asyncio.Event()

        async def load() -> int:
            n = 0
            async with httpx.AsyncClient(timeout=5) as c:
                while not stop.is_set():
                    try:
                        r = await c.get(state.production_url)
                        if r.status_code != 200 or r.text not in {"blue\n", "green\n"}:
                            failures.append(f"{r.status_code} {r.text[:60]!r}")
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                    n += 1
            return n

        workers = [asyncio.create_task(load()) for _ in range(4)]
        for _ in range(3):
            await asyncio.sleep(0.1)
            await router.route(Weights.all_to(Color.GREEN))
            await asyncio.sleep(0.1)
            await router.route(Weights.all_to(Color.BLUE))
        await asyncio.sleep(0.1)
        stop.set()
        done = sum(await asyncio.gather(*workers))
        assert done > 20
        assert failures == [], f"{len(failures)} of {done} requests failed: {failures[:5]}"

    async def test_router_gone(self, router: Any, backends: ColorBackends, client: httpx.AsyncClient) -> None:
        before = await router.observe()
        await self.crash(router)
        with pytest.raises(RouterError):
            await router.route(Weights.all_to(Color.GREEN))
        with pytest.raises(RouterError):
            await router.observe()
        if self.restartable:
            await router.prepare({Color.GREEN: backends.endpoints[Color.GREEN]})  # blue not given: kept
            after = await router.observe()
            assert (after.weights, after.test_color) == (before.weights, before.test_color)
            assert set(after.backends[Color.BLUE]) == set(before.backends[Color.BLUE])
            assert set(await colors(client, after.production_url, 5)) == {"blue"}

    async def test_every_call_is_idempotent(self, router: Any, backends: ColorBackends,
                                            client: httpx.AsyncClient) -> None:
        pid = getattr(router, "pid", None)
        await router.prepare(backends.endpoints)
        await router.prepare(backends.endpoints)
        assert getattr(router, "pid", None) == pid, "a repeated prepare() started a second router"
        await router.route(Weights.all_to(Color.GREEN))
        await router.route(Weights.all_to(Color.GREEN))
        first, second = await router.observe(), await router.observe()
        assert first == second
        assert set(await colors(client, first.production_url, 5)) == {"green"}
        await router.release()
        await router.release()
        with contextlib.suppress(RouterError):
            await router.observe()  # an owned router is gone now; an attached one still answers
