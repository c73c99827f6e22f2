"""The engine against platform behaviour found in issue 15, on the fakes: reads that fail while a
switch is verified, a router that serves another color than the state says (a GitOps sync), a
preview size scaled up before the switch, and drift that keeps coming back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from turnout import config
from turnout.checks.base import Target
from turnout.control.local import Stack
from turnout.engine.reconciler import Reconciler
from turnout.errors import NotReady, RouterError, RuntimeFailure, ValidationFailed
from turnout.model import Color, Endpoint, Measurement, RouteState, Weights
from turnout.store import SqliteStore
from turnout.testing.fakes import FakeRouter, FakeRuntime, ScriptedCheck


class FlakyRouter(FakeRouter):
    """A fake router whose first `fail_reads` observe() calls after a route() raise, as a throttled API does."""

    fail_reads = 0
    _failing = 0

    async def route(self, weights: Weights) -> None:
        await super().route(weights)
        self._failing = self.fail_reads

    async def observe(self) -> RouteState:
        if self._failing:
            self._failing -= 1
            self.calls.append("observe failed")
            raise RouterError("AWS ALB: DescribeListeners failed: Throttling: Rate exceeded")
        return await super().observe()


def stack(tmp_path: Path, extra: str = "", router: FakeRouter | None = None) -> Stack:
    cfg = config.parse(f'[app]\nname = "shop"\n[runtime]\ncommand = ["x"]\n[stabilize]\nwindow = "0s"\n{extra}',
                       base_dir=tmp_path)
    return Stack(cfg, SqliteStore(tmp_path / "state.db"), router or FakeRouter(), FakeRuntime(), [])


async def test_a_failed_read_while_verifying_is_not_a_failed_switch(tmp_path: Path) -> None:
    router = FlakyRouter()
    s = stack(tmp_path, router=router)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0", switch=False)
    router.fail_reads = 3
    router.calls.clear()
    dep = await orch.switch(Color.GREEN)
    assert dep.active is Color.GREEN
    # one route(), three failed reads, then the read that confirmed it: never routed back
    assert router.calls.count("route") == 1
    assert router.calls.count("observe failed") == 3
    assert (await router.observe()).weights == Weights.all_to(Color.GREEN)


async def test_reads_failing_past_the_deadline_fail_the_switch_and_say_why(tmp_path: Path) -> None:
    router = FlakyRouter()
    s = stack(tmp_path, '[deploy]\nverify_timeout = "300ms"\n', router=router)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0", switch=False)
    router.fail_reads = 10_000
    with pytest.raises(RouterError, match=r"nothing readable \(AWS ALB: DescribeListeners failed: Throttling"):
        await orch.route_and_verify(Weights.all_to(Color.GREEN))
    polls = router.calls.count("observe failed")
    assert 3 <= polls <= 8  # backed off (20 ms doubling), not a read every 20 ms for 300 ms


class SizeSpyRouter(FakeRouter):
    """Records how many instances the runtime ran on the color that route() sends traffic to."""

    def __init__(self, runtime: FakeRuntime) -> None:
        super().__init__()
        self.runtime, self.sizes_at_route = runtime, []

    async def route(self, weights: Weights) -> None:
        env = self.runtime.envs.get(weights.dominant)
        self.sizes_at_route.append(len(env.instances) if env else 0)
        await super().route(weights)


async def test_a_preview_size_is_scaled_up_before_the_switch(tmp_path: Path) -> None:
    """Argo Rollouts' previewReplicaCount: validate on fewer instances, then full size, then traffic."""
    runtime = FakeRuntime(instances=3)
    router = SizeSpyRouter(runtime)
    cfg = config.parse('[app]\nname = "shop"\n[runtime]\ncommand = ["x"]\ninstances = 3\npreview_instances = 1\n'
                       '[stabilize]\nwindow = "0s"\n', base_dir=tmp_path)
    s = Stack(cfg, SqliteStore(tmp_path / "state.db"), router, runtime, [])
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0", pause=True)
    assert len(runtime.envs[Color.GREEN].instances) == 1  # validated at its preview size
    assert len(router.backends[Color.GREEN]) == 1
    await orch.promote()
    assert router.sizes_at_route[-1] == 3  # full size when traffic moved
    assert len(router.backends[Color.GREEN]) == 3  # and the router was given the new instances first
    assert any(e.action == "scale" and "preview size (1) to 3" in e.reason for e in orch.store.history("shop"))


async def test_a_failed_scale_up_aborts_before_any_traffic_moves(tmp_path: Path) -> None:
    class NoRoom(FakeRuntime):
        async def scale(self, color: Color, count: int) -> list[Endpoint]:
            raise RuntimeFailure(f"0/{count} nodes are available: insufficient cpu")

    runtime = NoRoom(instances=3)
    cfg = config.parse('[app]\nname = "shop"\n[runtime]\ncommand = ["x"]\ninstances = 3\npreview_instances = 1\n'
                       '[stabilize]\nwindow = "0s"\n', base_dir=tmp_path)
    router = FakeRouter()
    s = Stack(cfg, SqliteStore(tmp_path / "state.db"), router, runtime, [])
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    routes = router.calls.count("route")
    with pytest.raises(ValidationFailed, match="preview size to full size failed: 0/3 nodes are available"):
        await orch.deploy("2.0")
    assert router.calls.count("route") == routes  # no traffic moved
    assert (await router.observe()).weights == Weights.all_to(Color.BLUE)
    assert orch.current().phase.value == "aborted" and Color.GREEN not in runtime.envs


# -- the router serves what the state does not say (a re-applied manifest, issue 15 B7) -----------------

async def test_deploy_refuses_while_the_router_serves_the_idle_color(tmp_path: Path) -> None:
    s = stack(tmp_path)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    router, runtime = s.router, s.runtime
    assert isinstance(router, FakeRouter) and isinstance(runtime, FakeRuntime)
    router.drift(Weights.all_to(Color.BLUE))  # a GitOps sync put production back on blue; the state says green
    runtime.calls.clear()
    with pytest.raises(NotReady, match=r"the router serves \{'blue': 100, 'green': 0\} but the state says green "
                                       r"is live: a deploy would start on blue, which serves production") as err:
        await orch.deploy("3.0")
    assert "turnout switch green" in err.value.hint
    assert runtime.calls == []  # nothing started on (or stopped from) the color users are served by
    assert (await runtime.status(Color.BLUE)).version == "1.0"
    assert orch.store.history("shop")[-1].outcome == "refused"
    assert orch.store.operations("shop")[0].state.value == "failed"


class DriftingCheck(ScriptedCheck):
    """Fails, and while it runs something else points production at the color being validated."""

    def __init__(self, router: FakeRouter) -> None:
        super().__init__("smoke", ["fail"])
        self.router = router

    async def measure(self, target: Target) -> Measurement:
        self.router.drift(Weights.all_to(target.color))
        return await super().measure(target)


async def test_an_aborted_deploy_leaves_a_color_the_router_serves_running(tmp_path: Path) -> None:
    router = FakeRouter()
    s = stack(tmp_path, router=router)
    s.checks = [DriftingCheck(router)]
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    with pytest.raises(ValidationFailed):
        await orch.deploy("2.0")
    assert (await s.runtime.status(Color.GREEN)).version == "2.0"  # not scaled away under production
    assert "green was left running: the router serves it" in orch.store.history("shop")[-1].reason


class StuckRouter(FakeRouter):
    refuse_routes = False

    async def route(self, weights: Weights) -> None:
        if self.refuse_routes:
            raise RouterError("ModifyListener failed: AccessDenied")
        await super().route(weights)


async def test_drift_that_comes_back_after_its_repair_says_so(tmp_path: Path) -> None:
    router = StuckRouter()
    s = stack(tmp_path, router=router)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    loop = Reconciler(s.orchestrator(actor="agent"), busy=lambda: False, grace=0)
    for _ in range(3):  # a GitOps tool with self-heal re-applies the manifest after every repair
        router.drift(Weights.all_to(Color.BLUE))
        await loop.tick()
        assert (await router.observe()).weights == Weights.all_to(Color.GREEN)
    repairs = [e.reason for e in orch.store.history("shop") if e.action == "reconcile"]
    assert len(repairs) == 3 and "within 10 min of a repair" not in repairs[0]
    assert "back 1 time within 10 min of a repair: something re-applies it, e.g. a GitOps sync" in repairs[1]
    assert "back 2 times" in repairs[2]
    router.drift(Weights.all_to(Color.BLUE))
    router.refuse_routes = True  # seen, not repaired: the drift `turnout status` shows says it too
    await loop.tick()
    loop.drifts["router split"] = replace(loop.drifts["router split"], retry_at=0)
    await loop.tick()
    detail = loop.drifts["router split"].detail
    assert detail.count("back 3 times within 10 min") == 1  # said once, not once per tick
