"""Model-based test of the control loop: a seeded random walk of operations in random order, with the
invariants checked after every step.

The agent runs for real (the same Agent, orchestrator, journal, reconciler and SQLite store), in
process, over the fakes (FakeRouter, FakeRuntime): a step is fast, so the walk is long. A release
whose version contains `+bad` fails every request once live (the watch's sampler sees it);
`+broken` never gets ready. Each agent runs in an event loop of its own thread, so `kill -9` is the
loop stopping dead: nothing of it runs again (no cleanup, no finally), while the router, the
instances and the store outlive it, as real processes and files do.

Invariants, after every step once the system settles (the agent up):
  1. production is served by a healthy color running the version the state names;
  2. the test endpoint serves the idle color;
  3. the audit chain verifies;
  4. no operation is silently lost: every operation stored as running is the agent's running one;
  5. a bad release never stays live past its watch window.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from turnout import config
from turnout.control import api
from turnout.control.local import Stack
from turnout.control.server import Agent, Feed
from turnout.engine.watch import Tick
from turnout.model import Color, OpState, Weights
from turnout.store import SqliteStore
from turnout.testing.fakes import FakeRouter, FakeRuntime

T = TypeVar("T")
STEPS = int(os.environ.get("TURNOUT_MODEL_STEPS", "600"))
SEED = int(os.environ.get("TURNOUT_MODEL_SEED", "20261130"))
WINDOW = 0.3  # the watch window of the walk's config
CONFIG = """
[app]
name = "model"
[runtime]
command = ["x"]
[stabilize]
window = "{window}s"
interval = "30ms"
baseline = "60ms"
[stabilize.outage]
consecutive = 2
[deploy]
retention = "{retention}s"
verify_timeout = "1s"
"""


class FakeSampler:
    """What the live color's users see: every request fails on a `+bad` release."""

    def __init__(self, runtime: FakeRuntime, color: Color) -> None:
        self.runtime, self.color = runtime, color

    async def sample(self) -> Tick:
        env = self.runtime.envs.get(self.color)
        failing = env is not None and "+bad" in env.version
        return Tick(time.time(), 10, 10 if failing else 0, (0.001,) * 10, time.time() if failing else None)


class Incarnation:
    """One agent process: its own event loop in a thread; `kill` stops it dead."""

    def __init__(self, world: World, number: int) -> None:
        self.world, self.number = world, number
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        store = SqliteStore(world.folder / "state.db", pid=number, alive=lambda pid: pid == world.alive)
        world.alive = number
        self.stack = Stack(world.cfg(), store, world.router, world.runtime, [], actor=f"agent-{number}",
                           sampler_for=lambda color, url: FakeSampler(world.runtime, color),
                           checks_for=lambda cfg: [])
        self.agent = Agent(self.stack, world.folder / "turnout.toml", world.folder / "agent.log")
        self.agent.reconciler.grace = 0.05
        self.run(self.agent.start(None if world.started else "v0"))
        world.started = True
        self.ticker = asyncio.run_coroutine_threadsafe(self.agent.reconcile_loop(), self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def command(self, args: api.Request, wait: bool) -> None:
        async def go() -> Feed:
            feed = await self.agent.dispatch(args, Feed())
            if wait:
                async with asyncio.timeout(8):
                    async with feed.changed:
                        await feed.changed.wait_for(lambda: feed.done)
            return feed

        try:
            feed = self.run(go(), timeout=10)
        except Exception as exc:  # a command refused before it started is a normal answer here
            self.world.refused.append(f"{type(args).__name__}: {exc}")
            return
        if wait and feed.frames and feed.frames[-1].error is not None:
            self.world.refused.append(f"{type(args).__name__}: {feed.frames[-1].error.type}")

    def kill(self) -> None:
        """SIGKILL: the loop stops between two callbacks and never runs again."""
        self.world.alive = -1
        self.loop.set_exception_handler(lambda loop, context: None)  # its tasks die pending, as in a kill
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def down(self) -> None:
        self.run(self.agent.teardown(), timeout=30)
        self.world.alive = -1
        self.loop.set_exception_handler(lambda loop, context: None)  # the reconcile ticker is left pending
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@dataclass
class World:
    folder: Path
    router: FakeRouter = field(default_factory=FakeRouter)
    runtime: FakeRuntime = field(default_factory=FakeRuntime)
    window: float = WINDOW
    retention: float = 2.0
    alive: int = -1
    started: bool = False
    refused: list[str] = field(default_factory=list)
    agent: Incarnation | None = None
    incarnations: int = 0
    versions: int = 0

    def cfg(self) -> config.Config:
        text = CONFIG.format(window=self.window, retention=self.retention)
        (self.folder / "turnout.toml").write_text(text)
        return config.parse(text, source=str(self.folder / "turnout.toml"), base_dir=self.folder)

    def up(self) -> None:
        self.incarnations += 1
        self.agent = Incarnation(self, self.incarnations)

    def release(self, kind: str = "") -> str:
        self.versions += 1
        return f"v{self.versions}{kind}"


def settle(world: World, timeout: float = 6.0) -> None:
    """Until no operation is running (a watch ends within its window), then one reconcile pass."""
    agent = world.agent
    assert agent is not None
    deadline = time.monotonic() + timeout
    while agent.agent.running is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert agent.agent.running is None, f"an operation did not end: {agent.agent.running.describe()}"
    agent.run(agent.agent.reconcile_once())
    time.sleep(agent.agent.reconciler.grace * 2)  # drift seen once, repaired on the next pass
    agent.run(agent.agent.reconcile_once())


def check_invariants(world: World, step: int, action: str) -> None:
    agent = world.agent
    assert agent is not None
    where = f"step {step} ({action})"
    store, router, runtime = agent.stack.store, world.router, world.runtime
    dep = store.load("model")
    state = agent.run(router.observe())
    live = agent.run(runtime.status(dep.active))
    # 1. production: a healthy color, running the version the state names, gets all traffic
    assert state.weights == Weights.all_to(dep.active), f"{where}: router {state.weights}, state {dep.active}"
    assert live.healthy > 0 and live.version == dep.version_of(dep.active), f"{where}: {live} vs {dep}"
    # 2. the test endpoint serves the idle color
    assert state.test_color is dep.idle, where
    # 3. the audit chain verifies
    assert store.verify() == [], where
    # 4. no operation silently lost
    running = [op for op in store.operations("model", 200) if op.state is OpState.RUNNING]
    assert running == [], f"{where}: operations left running with none in flight: {running}"
    # 5. a bad release is never live once its watch is over (the walk never forces one live)
    assert "+bad" not in (dep.version_of(dep.active) or ""), f"{where}: bad release {dep} stayed live"


ACTIONS = [("deploy", 6), ("deploy_bad", 3), ("deploy_broken", 1), ("deploy_paused", 2), ("promote", 2),
           ("abort", 2), ("rollback", 2), ("switch", 2), ("warm", 2), ("scale_down", 2), ("down_up", 1),
           ("kill9", 1), ("kill_instance", 2), ("reload", 1), ("wait", 1),
           # a command landing while a deploy runs: somewhere before, during or after its switch and watch
           ("deploy_then_abort", 2), ("deploy_then_rollback", 2), ("deploy_then_kill9", 3), ("deploy_then_down", 1)]


def test_random_walk_keeps_the_invariants(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    world = World(tmp_path)
    world.up()
    names, weights = zip(*ACTIONS, strict=True)
    counts: dict[str, int] = {}
    try:
        for step in range(STEPS):
            action = rng.choices(names, weights)[0]
            counts[action] = counts.get(action, 0) + 1
            perform(world, action, rng)
            if world.agent is None:
                world.up()
            settle(world)
            check_invariants(world, step, action)
        assert world.agent is not None
        audit = world.agent.stack.store.history("model", 100_000)
    finally:
        if world.agent is not None:
            with contextlib.suppress(Exception):
                world.agent.down()
    assert sum(counts.values()) == STEPS
    assert all(counts.get(name, 0) > 0 for name in names), counts  # the walk went everywhere
    seen = {"automatic rollbacks": sum(e.name == "rollback:ok" and e.reason.startswith("automatic") for e in audit),
            "operations resumed or ended by a new agent": sum(e.action == "resume" for e in audit),
            "repairs": sum(e.name == "reconcile:repaired" for e in audit),
            "aborted deploys": sum(e.name == "deploy:failed" for e in audit)}
    assert all(seen.values()), seen  # the walk reached the paths that matter
    print(f"model walk: {STEPS} steps, seed {SEED}, {world.incarnations} agents, {len(world.refused)} refused "
          f"commands, {seen}, actions {counts}")


def perform(world: World, action: str, rng: random.Random) -> None:
    agent = world.agent
    assert agent is not None
    wait = rng.random() < 0.7  # otherwise the next step lands while this one runs
    match action:
        case "deploy" | "deploy_bad" | "deploy_broken" | "deploy_paused":
            kind = {"deploy_bad": "+bad", "deploy_broken": "+broken"}.get(action, "")
            agent.command(api.DeployArgs(version=world.release(kind), pause=action == "deploy_paused"), wait)
        case "promote":
            agent.command(api.PromoteArgs(), wait)
        case "abort":
            agent.command(api.AbortArgs(reason="model"), wait)
        case "rollback":
            agent.command(api.RollbackArgs(), wait)
        case "switch":
            agent.command(api.SwitchArgs(), wait)
        case "warm":
            agent.command(api.WarmArgs(), wait)
        case "scale_down":
            agent.command(api.ScaleDownArgs(), wait)
        case "down_up":
            agent.down()
            world.agent = None  # the next `up` below
        case "kill9":
            time.sleep(rng.random() * WINDOW)  # somewhere inside whatever runs
            agent.kill()
            world.agent = None
        case "kill_instance":
            color = rng.choice(list(Color))
            if world.runtime.envs.get(color) and world.runtime.envs[color].instances:
                world.runtime.kill(color, 0)
        case "deploy_then_abort" | "deploy_then_rollback" | "deploy_then_kill9" | "deploy_then_down":
            agent.command(api.DeployArgs(version=world.release(rng.choice(["", "+bad"]))), False)
            time.sleep(rng.random() * (WINDOW + 0.2))
            then = action.removeprefix("deploy_then_")
            if then == "abort":
                agent.command(api.AbortArgs(reason="model"), True)
            elif then == "rollback":
                agent.command(api.RollbackArgs(), True)
            else:
                agent.kill() if then == "kill9" else agent.down()
                world.agent = None
        case "reload":
            world.window = rng.choice([0.2, 0.3, 0.4])
            world.retention = rng.choice([1.0, 2.0, 5.0])
            world.cfg()  # writes the file
            agent.command(api.ReloadArgs(), True)
        case "wait":
            time.sleep(rng.random() * 0.5)
        case _:
            pytest.fail(f"unknown action {action}")
