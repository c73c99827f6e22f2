"""The engine and the reconcile loop on the fakes: exact, fast cases that need the world to misbehave."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import pytest

from turnout import config
from turnout.control.local import Stack
from turnout.engine.reconciler import URGENT_CAP, Reconciler, one_line
from turnout.errors import RouterError
from turnout.infra.files import secret_file
from turnout.model import Color, RouteState, Weights
from turnout.store import SqliteStore
from turnout.testing.fakes import FakeRouter, FakeRuntime


def stack(tmp_path: Path, extra: str = "") -> Stack:
    cfg = config.parse(f'[app]\nname = "shop"\n[runtime]\ncommand = ["x"]\n[stabilize]\nwindow = "0s"\n{extra}',
                       base_dir=tmp_path)
    return Stack(cfg, SqliteStore(tmp_path / "state.db"), FakeRouter(), FakeRuntime(), [])


async def test_5_switch_decides_from_what_the_router_serves(tmp_path: Path) -> None:
    s = stack(tmp_path)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    assert orch.current().active is Color.GREEN
    router = s.router
    assert isinstance(router, FakeRouter)
    router.drift(Weights.all_to(Color.BLUE))  # changed by hand: the state says green
    dep = await orch.switch(Color.GREEN)  # the old code answered "noop: green already serves all traffic"
    assert (await router.observe()).weights == Weights.all_to(Color.GREEN)
    assert orch.store.history("shop")[-1].action == "switch"
    assert dep.active is Color.GREEN


async def test_reconcile_repairs_router_drift_and_missing_instances(tmp_path: Path) -> None:
    s = stack(tmp_path)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    router, runtime = s.router, s.runtime
    assert isinstance(router, FakeRouter) and isinstance(runtime, FakeRuntime)
    loop = Reconciler(s.orchestrator(actor="agent"), busy=lambda: False, grace=0)
    router.drift(Weights(50, 50))
    await runtime.stop(Color.BLUE)  # the old color's instances are gone (it is still warm: a rollback target)
    await loop.tick()
    assert (await router.observe()).weights == Weights.all_to(Color.GREEN)
    assert (await runtime.status(Color.BLUE)).version == "1.0"
    repairs = [e.reason for e in orch.store.history("shop") if e.action == "reconcile"]
    assert any("blue runs nothing, should run 1.0" in r for r in repairs)
    assert any("the router serves {'blue': 50, 'green': 50}" in r for r in repairs)
    await loop.tick()
    assert loop.drifts == {}


async def test_reconcile_leaves_what_an_operation_moves_alone(tmp_path: Path) -> None:
    s = stack(tmp_path)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    router = s.router
    assert isinstance(router, FakeRouter)
    loop = Reconciler(s.orchestrator(actor="agent"), busy=lambda: True, grace=0)
    router.drift(Weights(75, 25))  # a canary step in flight
    await loop.tick()
    assert (await router.observe()).weights == Weights(75, 25)


async def test_a_failed_repair_is_retried_with_backoff_and_reported(tmp_path: Path) -> None:
    s = stack(tmp_path)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    runtime = s.runtime
    assert isinstance(runtime, FakeRuntime)
    loop = Reconciler(s.orchestrator(actor="agent"), busy=lambda: False, grace=0)
    await runtime.stop(Color.BLUE)
    dep = orch.current()
    orch.store.save(dep.starting(Color.BLUE, "1.0+broken").validated().ready(Color.BLUE)
                    .switched(Color.BLUE, 0))  # the state names a release that never gets ready
    await loop.tick()
    drift = loop.drifts["blue instances"]
    assert drift.failures == 1 and drift.retry_at > drift.since
    assert "1.0+broken" in drift.error  # why, for `turnout status`
    await loop.tick()  # inside the backoff: not tried again
    assert loop.drifts["blue instances"].failures == 1
    assert [e.outcome for e in orch.store.history("shop") if e.action == "reconcile"] == ["failed"]
    for _ in range(6):  # production waits on it: the backoff doubles, but never past URGENT_CAP
        loop.drifts["blue instances"] = replace(loop.drifts["blue instances"], retry_at=0)
        await loop.tick()
    drift = loop.drifts["blue instances"]
    assert drift.failures == 7 and drift.retry_at - time.time() <= URGENT_CAP


def test_one_line_keeps_the_cause_at_the_end_of_a_log_tail() -> None:
    exc = RouterError("proxy exited while starting:\nstarting\nturnout-proxy: cannot listen on 127.0.0.1:8080\n")
    assert one_line(exc) == "proxy exited while starting: ... turnout-proxy: cannot listen on 127.0.0.1:8080"
    assert one_line(RouterError("plain")) == "plain" and one_line(RouterError("")) == "RouterError"


async def test_warm_restarts_the_retention_window(tmp_path: Path) -> None:
    s = stack(tmp_path, '[deploy]\nretention = "1s"\n')
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    await asyncio.sleep(1.1)
    assert await orch.retire_if_due()
    await orch.warm(Color.BLUE)
    assert not await orch.retire_if_due()  # the old code scaled it down again at once
    assert orch.current().rollback_open(orch.current().retained_at or 0, 1.0)


async def test_deploying_a_release_marked_bad_needs_force(tmp_path: Path) -> None:
    s = stack(tmp_path)
    orch = s.orchestrator()
    await orch.bootstrap("1.0")
    dep = orch.current()
    orch.store.save(dep.marked_bad("2.0"))
    with pytest.raises(Exception, match="rolled back automatically"):
        await orch.deploy("2.0")
    await orch.deploy("2.0", force=True)
    assert orch.current().bad == frozenset()
    assert (await s.runtime.status(Color.GREEN)).version == "2.0"


async def test_a_driver_bug_does_not_end_the_agents_reconcile_loop(tmp_path: Path) -> None:
    from turnout.control.server import Agent

    s = stack(tmp_path)
    (tmp_path / "turnout.toml").write_text("")
    agent = Agent(s, tmp_path / "turnout.toml", tmp_path / "agent.log")
    await agent.start("1.0")
    router = s.router
    assert isinstance(router, FakeRouter)
    real = router.observe
    calls = 0

    async def broken() -> RouteState:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "a damaged token file")  # not a TurnoutError
        return await real()

    router.observe = broken  # type: ignore[method-assign]
    router.drift(Weights(50, 50))
    await agent.reconcile_once()  # the bug is logged; reconcile_loop would go on with the next pass
    await agent.reconcile_once()
    assert (await real()).weights == Weights.all_to(Color.BLUE)  # and that pass repaired the drift


def test_a_damaged_secret_file_is_set_aside_and_made_again(tmp_path: Path) -> None:
    path = tmp_path / "admin.token"
    first = secret_file(path)
    assert secret_file(path) == first  # kept while it is readable
    for damage in (b"\x00\xff garbage", b"", b"  \n", b"two words"):
        path.write_bytes(damage)
        new = secret_file(path)
        assert new and new.isprintable() and new == path.read_text() and oct(path.stat().st_mode & 0o777) == "0o600"
    assert len(list(tmp_path.glob("admin.token.damaged-*"))) >= 1
