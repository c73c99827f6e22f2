"""The deploy lifecycle against real processes: example app instances behind the builtin proxy."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from turnout.engine.orchestrator import Orchestrator
from turnout.errors import LockHeld, NotReady, ValidationFailed
from turnout.events import SwitchTiming
from turnout.model import Color, Phase, Verdict, Weights

from .conftest import MakeStack


async def version_at(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as c:
        return str((await c.get(url + "/version")).json()["version"])


async def colors_at(url: str, n: int = 6) -> set[str]:
    async with httpx.AsyncClient(timeout=5) as c:
        return {(await c.get(url + "/")).headers["x-turnout-color"] for _ in range(n)}


async def started(make_stack: MakeStack, extra: str = "") -> tuple[Orchestrator, str, str]:
    stack = make_stack(extra)
    orch = stack.orchestrator()
    await orch.bootstrap("1.0")
    state = await stack.router.observe()
    return orch, state.production_url, state.test_url


async def test_happy_path_deploy_switches_and_keeps_old_warm(make_stack: MakeStack) -> None:
    orch, prod, test = await started(make_stack)
    assert await version_at(prod) == "1.0"
    dep = await orch.deploy("2.0")
    assert (dep.phase, dep.active, dep.versions[Color.GREEN]) == (Phase.STABILIZE, Color.GREEN, "2.0")
    assert await version_at(prod) == "2.0"
    assert await colors_at(prod) == {"green"}
    # test endpoint now serves the idle (old) color, which is still warm for rollback
    assert await colors_at(test) == {"blue"}
    assert await version_at(test) == "1.0"
    assert dep.warm[Color.BLUE]
    actions = [(e.action, e.outcome) for e in orch.store.history("shop")]
    assert ("validate", "ok") in actions and actions[-1] == ("switch", "ok")
    switch = orch.store.history("shop")[-1]
    assert (switch.from_color, switch.to_color) == (Color.BLUE, Color.GREEN)
    timing = switch.find(SwitchTiming)
    assert timing is not None and timing.ms > 0 and timing.routed_at > 0


@pytest.mark.parametrize(("version", "check"), [("2.0+broken", "readiness"), ("2.0+lie", "version")])
async def test_failed_check_aborts_without_switching(make_stack: MakeStack, version: str, check: str) -> None:
    orch, prod, _ = await started(make_stack)
    with pytest.raises(ValidationFailed, match=f"check {check} fail"):
        await orch.deploy(version)
    dep = orch.current()
    assert (dep.phase, dep.active, dep.weights) == (Phase.ABORTED, Color.BLUE, Weights(100, 0))
    assert not dep.warm[Color.GREEN]
    assert (await orch.runtime.status(Color.GREEN)).instances == ()  # the new color was stopped
    assert await version_at(prod) == "1.0"
    last = orch.store.history("shop")[-1]
    assert (last.action, last.outcome) == ("deploy", "failed")
    if check != "readiness":  # instances that never got ready fail the deploy before any check runs
        assert last.measurements()[-1].check == check and last.measurements()[-1].verdict is Verdict.FAIL


async def test_failed_smoke_command_aborts(make_stack: MakeStack) -> None:
    extra = '[[checks]]\nkind = "smoke"\ncommand = "curl -sf {test_url}/nope || (echo smoke broke; exit 3)"\n'
    orch, prod, _ = await started(make_stack, extra)
    with pytest.raises(ValidationFailed, match="check smoke fail.*exited 3: smoke broke"):
        await orch.deploy("2.0")
    assert orch.current().active is Color.BLUE
    assert await version_at(prod) == "1.0"
    assert orch.store.history("shop")[-1].measurements()[-1].value == 3


async def test_passing_smoke_gets_the_test_url(make_stack: MakeStack) -> None:
    extra = '[[checks]]\nkind = "smoke"\ncommand = "curl -sf {test_url}/version | grep -q 2.0"\n'
    orch, prod, _ = await started(make_stack, extra)
    await orch.deploy("2.0")
    assert await version_at(prod) == "2.0"


async def test_rollback_and_switch_again(make_stack: MakeStack) -> None:
    orch, prod, test = await started(make_stack)
    await orch.deploy("2.0")
    dep = await orch.rollback("bad numbers")
    assert (dep.phase, dep.active) == (Phase.ROLLED_BACK, Color.BLUE)
    assert await version_at(prod) == "1.0" and await version_at(test) == "2.0"
    dep = await orch.switch()
    assert (dep.phase, dep.active) == (Phase.STABILIZE, Color.GREEN)
    assert await version_at(prod) == "2.0"
    rollbacks = [e for e in orch.store.history("shop") if e.action == "rollback" and e.outcome == "ok"]
    assert rollbacks[0].reason == "bad numbers"


async def test_switch_to_the_live_color_is_a_noop(make_stack: MakeStack) -> None:
    orch, _, _ = await started(make_stack)
    before = orch.current().revision
    dep = await orch.switch(Color.BLUE)
    assert dep.revision == before


async def test_rollback_refused_when_old_color_scaled_down(make_stack: MakeStack) -> None:
    orch, prod, _ = await started(make_stack)
    await orch.deploy("2.0")
    await orch.scale_down(Color.BLUE)
    with pytest.raises(NotReady, match=r"blue \(1.0\) was scaled down") as exc:
        await orch.rollback()
    assert "turnout deploy 1.0" in exc.value.hint
    assert await version_at(prod) == "2.0"
    assert orch.store.history("shop")[-1].outcome == "refused"
    await orch.warm(Color.BLUE)  # warmed up again, rollback works
    assert (await orch.rollback()).active is Color.BLUE


async def test_rollback_refused_when_old_color_unhealthy(make_stack: MakeStack) -> None:
    orch, prod, _ = await started(make_stack)
    await orch.deploy("2.0")
    await orch.runtime.stop(Color.BLUE, drain=0)
    with pytest.raises(NotReady):
        await orch.rollback()
    assert await version_at(prod) == "2.0"


async def test_retention_scales_the_old_color_down(make_stack: MakeStack) -> None:
    orch, _, _ = await started(make_stack)
    await orch.deploy("2.0")
    assert not await orch.retire_if_due()  # inside the window
    assert await orch.retire_if_due(now=time.time() + 3600)
    assert not orch.current().warm[Color.BLUE]
    assert (await orch.runtime.status(Color.BLUE)).instances == ()


async def test_lock_held_refuses_a_second_deploy(make_stack: MakeStack) -> None:
    orch, _, _ = await started(make_stack)
    orch.store.acquire_lock("shop", "someone-else (pid test)", "deploy 9.9")
    with pytest.raises(LockHeld, match="held by someone-else"):
        await orch.deploy("2.0")
    orch.store.release_lock("shop", "someone-else (pid test)")


async def test_concurrent_deploys_one_wins(make_stack: MakeStack) -> None:
    stack = make_stack()
    await stack.orchestrator().bootstrap("1.0")
    a, b = stack.orchestrator(actor="a"), stack.orchestrator(actor="b")
    results = await asyncio.gather(a.deploy("2.0"), b.deploy("3.0"), return_exceptions=True)
    assert sum(isinstance(r, LockHeld) for r in results) == 1


async def test_no_switch_then_switch(make_stack: MakeStack) -> None:
    orch, prod, test = await started(make_stack)
    dep = await orch.deploy("2.0", switch=False)
    assert (dep.phase, dep.active) == (Phase.VALIDATE, Color.BLUE)
    assert await version_at(prod) == "1.0" and await version_at(test) == "2.0"
    results = await orch.validate()
    assert all(m.verdict.value == "pass" for m in results)
    assert (await orch.switch()).active is Color.GREEN
    assert await version_at(prod) == "2.0"


async def test_inflight_request_completes_across_switch(make_stack: MakeStack) -> None:
    orch, prod, _ = await started(make_stack)
    await orch.deploy("2.0", switch=False)
    async with httpx.AsyncClient(timeout=10) as c:
        slow = asyncio.create_task(c.get(prod + "/slow?ms=3000"))
        await asyncio.sleep(0.5)
        await orch.switch()
        assert (await c.get(prod + "/")).headers["x-turnout-color"] == "green"
        resp = await slow
    assert resp.status_code == 200 and resp.headers["x-turnout-color"] == "blue"
    assert len(resp.content) > 0


async def test_keepalive_connection_follows_switch_on_next_request(make_stack: MakeStack) -> None:
    orch, prod, _ = await started(make_stack)
    await orch.deploy("2.0", switch=False)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(timeout=5, limits=limits) as c:
        assert (await c.get(prod + "/")).headers["x-turnout-color"] == "blue"
        await orch.switch()
        assert (await c.get(prod + "/")).headers["x-turnout-color"] == "green"
        await orch.rollback()
        assert (await c.get(prod + "/")).headers["x-turnout-color"] == "blue"


async def test_test_listener_always_serves_idle_color(make_stack: MakeStack) -> None:
    orch, _, test = await started(make_stack)
    await orch.deploy("2.0")
    for _ in range(3):
        dep = orch.current()
        assert await colors_at(test) == {dep.idle.value}
        assert (await orch.router.observe()).test_color is dep.idle
        await orch.switch()


@pytest.mark.parametrize(("router_weights", "phase", "active"), [
    (Weights(0, 100), Phase.STABILIZE, Color.GREEN),  # crashed after the router switched: finish it
    (Weights(100, 0), Phase.ABORTED, Color.BLUE),  # crashed before: blue kept serving
    (Weights(75, 25), Phase.ABORTED, Color.BLUE),  # crashed mid-canary: route everything back
])
async def test_crash_mid_switch_is_finished_or_undone(make_stack: MakeStack, router_weights: Weights,
                                                     phase: Phase, active: Color) -> None:
    from dataclasses import replace

    orch, prod, _ = await started(make_stack)
    dep = await orch.deploy("2.0", switch=False)
    # what a crash leaves: the intent saved (phase SWITCH, target green), the router wherever it got
    orch.store.save(replace(dep, phase=Phase.SWITCH, target=Color.GREEN))
    await orch.router.route(router_weights)
    fresh = orch.store  # a new orchestrator, as the restarted agent builds it
    restarted = Orchestrator(orch.cfg, fresh, orch.router, orch.runtime, orch.checks, actor="agent")
    await restarted.resume()
    dep = restarted.current()
    assert (dep.phase, dep.active, dep.target) == (phase, active, None)
    assert (await orch.router.observe()).weights == Weights.all_to(active)
    assert await version_at(prod) == ("2.0" if active is Color.GREEN else "1.0")
    assert dep.warm[Color.GREEN] and dep.warm[Color.BLUE]  # nothing was stopped: both still switchable
    assert orch.store.history("shop")[-1].action == "resume"
