"""Issue 4 in the lifecycle: stabilize triggers roll back on their own, the manual gate, canary
steps (also failing at 25 %), webhooks and hooks. Real processes: example app behind the proxy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from turnout.engine.operation import Intent
from turnout.engine.orchestrator import Orchestrator
from turnout.errors import Aborted, AutoRolledBack, NotReady, TurnoutError
from turnout.events import RollbackTiming, TriggerFired
from turnout.model import Color, OpState, Phase, Weights

from .conftest import ADMIN, MakeStack, free_port

WATCH = """
[stabilize]
window = "{window}"
interval = "250ms"
baseline = "1s"
[stabilize.outage]
enabled = {outage}
[stabilize.error_rate]
enabled = {error_rate}
[stabilize.latency]
enabled = {latency}
lookback = "2s"
min_samples = 30
"""


def watch_cfg(window: str = "15s", *, outage: bool = True, error_rate: bool = True, latency: bool = True) -> str:
    return WATCH.format(window=window, outage=str(outage).lower(), error_rate=str(error_rate).lower(),
                        latency=str(latency).lower())


async def fault(orch: Orchestrator, color: Color, **faults: Any) -> None:
    """Break a color's instances at run time through the example app's fault switch."""
    async with httpx.AsyncClient(timeout=5) as c:
        for ep in (await orch.runtime.status(color)).endpoints:
            (await c.post(ep.url + "/admin/fault", json=faults, headers=ADMIN)).raise_for_status()


async def when(orch: Orchestrator, predicate: Any, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate(orch.current()):
        assert loop.time() < deadline, f"timed out; state {orch.current()}"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize(("trigger", "faults", "enabled"), [
    ("outage", {"error_rate": 1.0}, {"error_rate": False, "latency": False}),
    ("error_rate", {"error_rate": 0.5}, {"outage": False, "latency": False}),
    ("latency", {"latency_ms": 150}, {"outage": False, "error_rate": False}),
])
async def test_trigger_rolls_back_automatically(make_stack: MakeStack, trigger: str, faults: dict[str, Any],
                                                enabled: dict[str, bool]) -> None:
    orch = make_stack(watch_cfg(**enabled)).orchestrator()  # type: ignore[arg-type]
    await orch.bootstrap("1.0")
    deploy = asyncio.create_task(orch.deploy("2.0"))
    await when(orch, lambda d: d.phase is Phase.STABILIZE)
    await asyncio.sleep(0.5)
    await fault(orch, Color.GREEN, **faults)
    with pytest.raises(AutoRolledBack, match=f"trigger {trigger}"):
        await asyncio.wait_for(deploy, 30)
    dep = orch.current()
    assert (dep.phase, dep.active, dep.weights) == (Phase.ROLLED_BACK, Color.BLUE, Weights(100, 0))
    # the audit shows both switches, the trigger with its measurements, and the restore time
    events = orch.store.history("shop")
    switches = [(e.action, e.from_color, e.to_color) for e in events if e.outcome == "ok" and e.from_color]
    assert switches[-2:] == [("switch", Color.BLUE, Color.GREEN), ("rollback", Color.GREEN, Color.BLUE)]
    rollback = next(e for e in reversed(events) if e.action == "rollback" and e.outcome == "ok")
    assert rollback.reason.startswith(f"automatic: {trigger}")
    info = rollback.find(TriggerFired)
    assert info is not None and info.trigger == trigger and info.judgements
    timing = next(e for e in reversed(events) if e.outcome == "measured").find(RollbackTiming)
    assert timing is not None and timing.detect_to_restore_ms > 0


async def test_quiet_window_keeps_the_release(make_stack: MakeStack) -> None:
    orch = make_stack(watch_cfg("2s")).orchestrator()
    await orch.bootstrap("1.0")
    dep = await orch.deploy("2.0")
    assert (dep.phase, dep.active) == (Phase.STABILIZE, Color.GREEN)
    assert orch.store.history("shop")[-1].action == "stabilize"


async def test_a_rollback_during_the_watch_ends_it_and_says_so(make_stack: MakeStack) -> None:
    orch = make_stack(watch_cfg("60s")).orchestrator()
    await orch.bootstrap("1.0")
    op = orch.operation("deploy", "2.0")
    deploy = asyncio.create_task(orch.deploy("2.0", op=op))
    await when(orch, lambda d: d.phase is Phase.STABILIZE)
    intent = Intent("rollback", "alice", "numbers look off")
    op.ask(intent)  # what the agent does for `turnout rollback` during the watch
    try:
        await orch.rollback("numbers look off")
    finally:
        intent.settled.set()
    with pytest.raises(Aborted, match="2.0 was rolled back during its watch: rollback by alice") as err:
        await asyncio.wait_for(deploy, 10)  # the deploy did not succeed: its command exits 14, not 0
    assert err.value.hint == "blue (1.0) serves all traffic" and orch.current().active is Color.BLUE
    assert (op.op.state, op.op.message, op.op.exit_code) == \
        (OpState.ROLLED_BACK, "rollback by alice: numbers look off", Aborted.exit_code)
    ended = next(e for e in reversed(orch.store.history("shop")) if e.action == "stabilize")
    assert ended.outcome == "ended" and "no trigger fired" not in ended.reason


async def test_manual_gate_promote(make_stack: MakeStack) -> None:
    orch = make_stack().orchestrator()
    await orch.bootstrap("1.0")
    dep = await orch.deploy("2.0", pause=True)
    assert (dep.phase, dep.active, dep.target) == (Phase.VALIDATE, Color.BLUE, None)
    assert orch.store.history("shop")[-1].action == "pause"
    dep = await orch.promote()
    assert (dep.phase, dep.active) == (Phase.STABILIZE, Color.GREEN)
    with pytest.raises(NotReady, match="no validated release is waiting"):
        await orch.promote()


async def test_manual_gate_abort(make_stack: MakeStack) -> None:
    orch = make_stack().orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0", pause=True)
    dep = await orch.abort_paused("not today")
    assert (dep.phase, dep.active) == (Phase.ABORTED, Color.BLUE)
    assert (await orch.runtime.status(Color.GREEN)).instances == ()
    assert orch.store.history("shop")[-1].reason == "not today"
    with pytest.raises(NotReady, match="nothing to abort"):  # said as what it is, not as a promotion
        await orch.abort_paused("again")


async def test_canary_steps_then_full_switch(make_stack: MakeStack) -> None:
    orch = make_stack(watch_cfg("0s")).orchestrator()
    orch.cfg = orch.cfg.model_copy(update={"deploy": orch.cfg.deploy.model_copy(update={"step_window": 0.5})})
    await orch.bootstrap("1.0")
    seen: list[dict[str, int]] = []
    task = asyncio.create_task(orch.deploy("2.0", steps=[5, 25, 50, 100]))
    while not task.done():
        seen.append((await orch.router.observe()).weights.as_dict())
        await asyncio.sleep(0.1)
    dep = task.result()
    assert (dep.phase, dep.active, dep.weights) == (Phase.STABILIZE, Color.GREEN, Weights(0, 100))
    greens = [w["green"] for w in seen]
    assert {5, 25, 50} <= set(greens) and greens == sorted(greens)
    canary = [e.reason for e in orch.store.history("shop") if e.action == "canary" and e.outcome == "ok"]
    assert [r.split("%")[0] for r in canary] == ["5", "25", "50"]


async def test_canary_failure_at_25_percent_routes_back(make_stack: MakeStack) -> None:
    orch = make_stack(watch_cfg("0s", latency=False)).orchestrator()
    orch.cfg = orch.cfg.model_copy(update={"deploy": orch.cfg.deploy.model_copy(update={"step_window": 3.0})})
    await orch.bootstrap("1.0")
    task = asyncio.create_task(orch.deploy("2.0", steps=[5, 25, 50, 100]))
    await when(orch, lambda d: d.weights == Weights(75, 25))
    await fault(orch, Color.GREEN, error_rate=1.0)
    with pytest.raises(AutoRolledBack, match="canary step 25% failed"):
        await asyncio.wait_for(task, 30)
    dep = orch.current()
    assert (dep.phase, dep.active, dep.weights) == (Phase.ROLLED_BACK, Color.BLUE, Weights(100, 0))
    assert (await orch.router.observe()).weights == Weights(100, 0)
    events = [(e.action, e.outcome, e.reason.split(" ")[0]) for e in orch.store.history("shop")]
    assert ("canary", "ok", "5%") in events and ("canary", "started", "25%") in events
    assert ("canary", "ok", "25%") not in events
    assert events[-2][:2] == ("rollback", "ok")


async def test_steps_refused_with_bad_percentages(make_stack: MakeStack) -> None:
    orch = make_stack().orchestrator()
    await orch.bootstrap("1.0")
    with pytest.raises(TurnoutError, match="canary steps must rise"):
        await orch.deploy("2.0", steps=[50, 25])
    assert orch.current().phase is Phase.INITIAL


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    got: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/events", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/events", got
    await runner.cleanup()


async def test_webhook_receives_every_event_and_hooks_run(make_stack: MakeStack, tmp_path: Path,
                                                          receiver: tuple[str, list[dict[str, Any]]]) -> None:
    url, got = receiver
    out = tmp_path / "hooks.log"
    hooks = (f'[hooks]\n"post-switch" = "echo switch $TURNOUT_ACTIVE $TURNOUT_VERSION >> {out}"\n'
             f'"post-rollback" = "echo rollback $TURNOUT_ACTIVE $TURNOUT_REASON >> {out}"\n'
             f'"pre-deploy" = "echo pre $TURNOUT_ACTIVE >> {out}"\n')
    stack = make_stack(hooks, top=f'webhooks = ["{url}"]')
    orch = stack.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    await orch.rollback("webhook test")
    assert stack.notifier is not None
    await stack.notifier.flush()
    audit = [f"{e.action}:{e.outcome}" for e in orch.store.history("shop")]
    assert sorted(g["event"] for g in got) == sorted(audit)  # one event per audit entry; order may vary
    assert {"switch:ok", "rollback:ok", "deploy:started", "validate:ok", "hook:ok"} <= set(audit)
    last = next(g for g in got if g["event"] == "rollback:ok")
    assert (last["from"], last["to"], last["app"], last["reason"]) == ("green", "blue", "shop", "webhook test")
    assert out.read_text().splitlines() == ["pre blue", "switch green 2.0", "rollback blue webhook test"]


async def test_failing_pre_deploy_hook_stops_the_deploy(make_stack: MakeStack) -> None:
    orch = make_stack('[hooks]\n"pre-deploy" = "echo frozen; exit 1"\n').orchestrator()
    await orch.bootstrap("1.0")
    with pytest.raises(TurnoutError, match="pre-deploy hook exited 1: frozen"):
        await orch.deploy("2.0")
    assert orch.current().phase is Phase.INITIAL
    assert (await orch.runtime.status(Color.GREEN)).instances == ()
