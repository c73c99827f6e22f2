"""The contracts every driver passes, split by capability (kopf's way) so a driver runs what it can.

    RouterApiContract       every router: what observe() reads back after route(), idempotency, a
                            router that is gone (Kubernetes, which picks instances itself by label)
    RouterBackendsContract  routers that are given their instances: prepare() read back (AWS ALB)
    RouterTrafficContract   routers with a data plane here: all of the above, plus real HTTP traffic
                            (switch on an open keep-alive connection, weights, drain, no failed request)
    RuntimeContract        runtimes that start instances: start, status, scale, stop, failures
    StoreContract          stores: compare-and-swap, append-only audit, the deploy lock

A third-party driver reuses a contract by subclassing it in its own tests:

    class TestMyRouter(RouterTrafficContract):
        router_class = MyRouter
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, cast

import httpx
import pytest
import pytest_asyncio

from turnout.config import AppConfig, Config, RouterConfig, StateConfig
from turnout.errors import LockHeld, RouterError, RuntimeFailure, StaleState, UsageError
from turnout.events import AuditEvent, Checked
from turnout.infra.procs import free_port
from turnout.model import ApiToken, Color, Endpoint, Measurement, Phase, Release, TrafficPoint, Verdict, Weights
from turnout.routers.base import TrafficSource
from turnout.runtimes.base import Runtime
from turnout.store.base import Store
from turnout.testing import router_from_config
from turnout.testing.backends import SLOW_CHUNKS, ColorBackends, colors


class RouterApiContract:
    """What every Router must do, read back through its own API."""

    router_class: ClassVar[type[Any]]
    restartable: ClassVar[bool] = True  # prepare() after a crash starts the router again (owned routers)
    listens_where_configured: ClassVar[bool] = True  # production/test URLs are router.production/test
    drain: ClassVar[float] = 3.0

    # -- hooks a subclass may override ---------------------------------------------------------
    @pytest.fixture
    def router_options(self, tmp_path: Path) -> dict[str, Any]:
        return {}

    async def crash(self, router: Any) -> None:
        """Kill the router without letting it clean up. Default: SIGKILL `router.pid`'s process group."""
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
    def backends(self) -> Iterator[Any]:
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
    async def router(self, config: Config, backends: Any) -> AsyncIterator[Any]:
        router = router_from_config(self.router_class, config)
        try:
            await router.prepare(backends.endpoints)
            await router.route(Weights.all_to(Color.BLUE))
            yield router
        finally:
            await router.release()

    def splits(self) -> list[Weights]:
        splits = [Weights(100, 0), Weights(0, 100), Weights(100, 0)]
        if self.router_class.can_split:
            splits += [Weights(30, 70), Weights(70, 30), Weights(50, 50)]
        return splits

    # -- the contract --------------------------------------------------------------------------
    async def test_observe_reads_back_every_split(self, router: Any) -> None:
        for weights in self.splits():
            await router.route(weights)
            state = await router.observe()
            assert state.weights == weights
            assert state.test_color is weights.dominant.other, f"{weights}: test endpoint on {state.test_color}"
        if not router.can_split:
            with pytest.raises(RouterError):
                await router.route(Weights(70, 30))

    async def test_observe_reports_urls(self, router: Any, config: Config) -> None:
        await router.route(Weights.all_to(Color.GREEN))
        state = await router.observe()
        assert (state.weights, state.test_color) == (Weights(0, 100), Color.BLUE)
        assert state.production_url and state.test_url and state.production_url != state.test_url
        if self.listens_where_configured:
            assert state.production_url == f"http://{config.router.production}"
            assert state.test_url == f"http://{config.router.test}"
        assert await router.observe() == state

    async def test_every_call_is_idempotent(self, router: Any, backends: Any) -> None:
        pid = getattr(router, "pid", None)
        if self.restartable:  # owned: the process is the router, and it must not be started twice
            assert pid is not None, "an owned router reports the pid of the process it started"
        await router.prepare(backends.endpoints)
        await router.prepare(backends.endpoints)
        assert getattr(router, "pid", None) == pid, "a repeated prepare() started a second router"
        await router.route(Weights.all_to(Color.GREEN))
        await router.route(Weights.all_to(Color.GREEN))
        first, second = await router.observe(), await router.observe()
        assert first == second and first.weights == Weights(0, 100)
        await router.release()
        await router.release()
        with contextlib.suppress(RouterError):
            await router.observe()  # an owned router is gone now; an attached one still answers

    async def test_router_gone(self, router: Any, backends: Any) -> None:
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
            await self.serves_after_restart(router)

    async def serves_after_restart(self, router: Any) -> None:
        """What a restarted router must show beyond its API (the traffic contract sends requests)."""


class RouterBackendsContract(RouterApiContract):
    """Routers that are given their instances by prepare(): what they were given is read back."""

    async def test_observe_reports_the_instances(self, router: Any, backends: Any) -> None:
        state = await router.observe()
        for color in Color:
            assert set(state.backends[color]) == set(backends.endpoints[color]), color

    async def test_prepare_one_color_leaves_the_other(self, router: Any, backends: Any) -> None:
        new_green = backends.add(Color.GREEN)
        await router.prepare({Color.GREEN: [new_green]})  # what a deploy to the idle color does
        state = await router.observe()
        assert state.backends[Color.GREEN] == (new_green,)
        assert set(state.backends[Color.BLUE]) == set(backends.endpoints[Color.BLUE])
        assert state.weights == Weights(100, 0)


class RouterTrafficContract(RouterBackendsContract):
    """The API contract, plus what real HTTP traffic through the router must show."""

    @pytest_asyncio.fixture
    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(timeout=10) as c:
            yield c

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
        assert router.can_split, "a router with a data plane here splits traffic by weight"
        await router.route(Weights(70, 30))
        state = await router.observe()
        got = await colors(client, state.production_url, 400)
        assert 0.2 <= got.count("green") / len(got) <= 0.4, f"green share {got.count('green')}/400, asked 30%"
        await router.route(Weights(0, 100))
        assert set(await colors(client, state.production_url, 20)) == {"green"}

    async def test_large_request_bodies_reach_the_app(self, router: Any, client: httpx.AsyncClient) -> None:
        """How large a body may be is the app's to say, not the router's (nginx's own default, 1 MiB,
        answered uploads above it with 413)."""
        state = await router.observe()
        body = b"x" * (8 << 20)
        for url, color in ((state.production_url, "blue"), (state.test_url, "green")):
            r = await client.post(url + "/upload", content=body)
            assert (r.status_code, r.text) == (200, f"{color} {len(body)}\n"), (url, r.status_code, r.text[:200])

    async def test_test_endpoint_serves_the_idle_color(self, router: Any, client: httpx.AsyncClient) -> None:
        for weights in self.splits():
            await router.route(weights)
            state = await router.observe()
            idle = weights.dominant.other
            assert set(await colors(client, state.test_url, 6)) == {idle.value}, f"{weights}"

    async def test_traffic_reaches_the_instances_observe_reports(self, router: Any, client: httpx.AsyncClient,
                                                                 backends: ColorBackends) -> None:
        await router.route(Weights.all_to(Color.GREEN))
        state = await router.observe()
        seen = set(await colors(client, state.production_url, 8, "/whoami"))
        assert seen == {f"green {e.port}" for e in backends.endpoints[Color.GREEN]}

    async def test_replace_idle_instances(self, router: Any, client: httpx.AsyncClient,
                                          backends: ColorBackends) -> None:
        old_green = list(backends.endpoints[Color.GREEN])
        new_green = backends.add(Color.GREEN)
        await router.prepare({Color.BLUE: backends.endpoints[Color.BLUE], Color.GREEN: [new_green]})
        state = await router.observe()
        assert state.backends[Color.GREEN] == (new_green,)
        assert set(await colors(client, state.test_url, 6, "/whoami")) == {f"green {new_green.port}"}
        assert set(await colors(client, state.production_url, 6)) == {"blue"}
        await router.prepare({Color.BLUE: backends.endpoints[Color.BLUE], Color.GREEN: old_green})
        assert set((await router.observe()).backends[Color.GREEN]) == set(old_green)

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

    async def test_traffic_counts_production_per_color(self, router: Any, client: httpx.AsyncClient) -> None:
        assert isinstance(cast(object, router), TrafficSource), "a router with a data plane here reports its traffic"
        await router.route(Weights.all_to(Color.GREEN))
        state = await router.observe()
        before = await router.traffic()
        for path, n in (("/", 12), ("/fail", 3), ("/sleep/0.3", 2)):
            for _ in range(n):
                await client.get(state.production_url + path)
        for _ in range(5):  # the test listener's requests are not user traffic
            await client.get(state.test_url + "/fail")
        want = {Color.GREEN: (17, 3), Color.BLUE: (0, 0)}
        deadline = time.monotonic() + 5  # some routers publish histograms a moment later
        while True:
            after = await router.traffic()
            window = after.since(before)
            got = {c: (w.requests, w.errors) for c, w in window.items()}
            green = window[Color.GREEN]
            slow = sum(n for bound, n in zip((*after.bounds, float("inf")), green.buckets, strict=True)
                       if bound > 0.25)
            if (got == want and slow == 2 and sum(green.buckets) == 17) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert got == want, f"(requests, 5xx) per color: {got}, expected {want}"
        assert sum(green.buckets) == 17 and slow == 2, f"latency buckets {green.buckets} over {after.bounds}"

    async def test_traffic_counts_the_routers_own_errors(self, router: Any, client: httpx.AsyncClient) -> None:
        """No instance reachable: the router answers 5xx itself, and that is the color's error too."""
        dead = free_port()
        await router.prepare({Color.GREEN: [Endpoint("127.0.0.1", dead)]})
        await router.route(Weights.all_to(Color.GREEN))
        state = await router.observe()
        before = await router.traffic()
        # at once: a router may retry a refused connection for a while (HAProxy: a second per retry)
        codes = [r.status_code for r in await asyncio.gather(*(client.get(state.production_url) for _ in range(4)))]
        assert all(c >= 500 for c in codes), codes
        deadline = time.monotonic() + 5
        while (w := (await router.traffic()).since(before)[Color.GREEN]).errors < 4 and \
                time.monotonic() < deadline:  # noqa: ASYNC110 - polling a router's counters: no event to wait on
            await asyncio.sleep(0.1)
        assert (w.requests, w.errors) == (4, 4), w

    async def serves_after_restart(self, router: Any) -> None:
        state = await router.observe()
        async with httpx.AsyncClient(timeout=10) as client:
            assert set(await colors(client, state.production_url, 5)) == {"blue"}


# -- runtimes -------------------------------------------------------------------------------------

class RuntimeContract:
    """What a runtime that starts instances must do. Subclasses provide `runtime` (a factory fixture
    taking the instance count) and `good`/`broken` releases: one that gets ready, one that never does."""

    good: ClassVar[str] = "1.0.0"
    broken: ClassVar[str] = "1.0.0+broken"

    @pytest.fixture
    def runtime(self) -> Callable[..., Runtime]:
        raise NotImplementedError("the subclass provides a `runtime(instances=N)` factory fixture")

    async def test_start_status_stop(self, runtime: Callable[..., Runtime]) -> None:
        rt = runtime(instances=2)
        endpoints = await rt.start(Release(self.good), Color.GREEN)
        assert len(endpoints) == 2 == len(set(endpoints))
        status = await rt.status(Color.GREEN)
        assert status.version == self.good and status.healthy == 2 and set(status.endpoints) == set(endpoints)
        assert (await rt.status(Color.BLUE)).instances == ()  # the other color is untouched
        await rt.stop(Color.GREEN, drain=0)
        assert (await rt.status(Color.GREEN)).instances == ()
        await rt.stop(Color.GREEN, drain=0)  # stopping what is stopped is fine

    async def test_start_replaces_what_ran(self, runtime: Callable[..., Runtime]) -> None:
        rt = runtime(instances=1)
        await rt.start(Release(self.good), Color.BLUE)
        newer = self.good + "-2"
        await rt.start(Release(newer), Color.BLUE)
        status = await rt.status(Color.BLUE)
        assert status.version == newer and len(status.instances) == 1 and status.healthy == 1
        await rt.stop(Color.BLUE, drain=0)

    async def test_scale(self, runtime: Callable[..., Runtime]) -> None:
        rt = runtime(instances=1)
        await rt.start(Release(self.good), Color.BLUE)
        assert len(await rt.scale(Color.BLUE, 3)) == 3
        assert (await rt.status(Color.BLUE)).healthy == 3
        assert len(await rt.scale(Color.BLUE, 1)) == 1
        assert len((await rt.status(Color.BLUE)).instances) == 1
        await rt.stop(Color.BLUE, drain=0)
        with pytest.raises(RuntimeFailure):
            await rt.scale(Color.GREEN, 2)  # nothing runs there to scale

    async def test_a_release_that_never_gets_ready_leaves_nothing(self, runtime: Callable[..., Runtime]) -> None:
        rt = runtime(instances=1)
        with pytest.raises(RuntimeFailure):
            await rt.start(Release(self.broken), Color.GREEN)
        assert (await rt.status(Color.GREEN)).instances == ()


# -- stores ---------------------------------------------------------------------------------------

class StoreContract:
    """What a state store must do. Subclasses provide `store` (a factory: calling it twice gives two
    handles on the same state, as two processes would have)."""

    @pytest.fixture
    def store(self) -> Callable[[], Store]:
        raise NotImplementedError("the subclass provides a `store()` factory fixture")

    def test_new_app_starts_initial_on_blue(self, store: Callable[[], Store]) -> None:
        d = store().load("shop")
        assert (d.phase, d.active, d.revision, d.weights) == (Phase.INITIAL, Color.BLUE, 0, Weights(100, 0))

    def test_compare_and_swap(self, store: Callable[[], Store]) -> None:
        one, two = store(), store()
        d = one.load("shop")
        saved = one.save(d.starting(Color.GREEN, "2"))
        assert saved.revision == 1 and two.load("shop").versions[Color.GREEN] == "2"
        with pytest.raises(StaleState):
            two.save(d.dropped(Color.GREEN))  # written from an old read
        assert one.load("shop").versions[Color.GREEN] == "2"

    def test_every_field_round_trips(self, store: Callable[[], Store]) -> None:
        s = store()
        d = s.load("a").switched(Color.GREEN, 12.5).shifted(Weights(25, 75)).switching(Color.BLUE).ready(Color.BLUE)
        s.save(d)
        got = store().load("a")
        assert (got.active, got.weights, got.target, got.switched_at, got.warm) == (
            Color.GREEN, Weights(25, 75), Color.BLUE, 12.5, d.warm)

    def test_traffic_points_round_trip_and_age_out(self, store: Callable[[], Store]) -> None:
        s, now = store(), time.time()
        old = TrafficPoint(now - 100, Color.BLUE, 1.0, 10, 0, 0.002, 100)
        points = [TrafficPoint(now - 2, Color.BLUE, 1.0, 50, 1, 0.004, 100),
                  TrafficPoint(now - 2, Color.GREEN, 1.0, 0, 0, None, 0),
                  TrafficPoint(now - 1, Color.GREEN, 1.02, 49, 0, 0.0035, 100)]
        s.record_traffic("shop", [old])
        s.record_traffic("shop", points, keep=50)  # `old` is past keeping now
        s.record_traffic("other", [TrafficPoint(now - 1, Color.BLUE, 1.0, 7, 7, None, 100)])
        assert store().traffic("shop", now - 1000) == points
        assert store().traffic("shop", now - 1.5, now) == points[2:]

    def test_api_tokens_by_name(self, store: Callable[[], Store]) -> None:
        s = store()
        s.save_token(ApiToken("ci", "operator", "d1" * 32, 1.0, "alice"))
        s.save_token(ApiToken("board", "viewer", "d2" * 32, 2.0, "bob"))
        with pytest.raises(UsageError, match="exists already"):
            s.save_token(ApiToken("ci", "viewer", "d3" * 32))
        assert [(t.name, t.role) for t in store().tokens()] == [("board", "viewer"), ("ci", "operator")]
        assert s.revoke_token("ci") and not s.revoke_token("ci")
        assert [t.name for t in store().tokens()] == ["board"]

    def test_audit_appends_in_order(self, store: Callable[[], Store]) -> None:
        s = store()
        checked = Checked(measurement=Measurement("x", Verdict.PASS, 1, "ok", {"n": 1}))
        first = s.append(AuditEvent(app="shop", action="switch", outcome="ok", actor="me", from_color=Color.BLUE,
                                    to_color=Color.GREEN, evidence=(checked,)))
        second = s.append(AuditEvent(app="shop", action="rollback", outcome="ok"))
        s.append(AuditEvent(app="other", action="deploy", outcome="started"))
        assert first.id is not None and second.id is not None and second.id > first.id and first.at > 0
        hist = store().history("shop")
        assert [(e.action, e.to_color) for e in hist] == [("switch", Color.GREEN), ("rollback", None)]
        assert hist[0].evidence == (checked,) and hist[0].actor == "me"
        assert [e.action for e in store().history("shop", limit=1)] == ["rollback"]

    def test_lock_says_who_and_since(self, store: Callable[[], Store]) -> None:
        one, two = store(), store()
        one.acquire_lock("shop", "alice", "deploy 2.0")
        info = two.lock_info("shop")
        assert info is not None and (info.holder, info.purpose) == ("alice", "deploy 2.0")
        with pytest.raises(LockHeld, match="alice"):
            two.acquire_lock("shop", "bob", "deploy 3.0")
        one.acquire_lock("shop", "alice", "again")  # the holder may take it again
        one.release_lock("shop", "bob")  # only the holder releases it
        assert two.lock_info("shop") is not None
        one.release_lock("shop", "alice")
        assert two.acquire_lock("shop", "bob").holder == "bob"
        assert one.lock_info("other") is None
