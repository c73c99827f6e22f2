"""analysis: the pure judge (table tests), the gate with scripted and real checks, the watch's
triggers on synthetic probe history and against a real app whose faults switch on at run time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from turnout.checks.base import Target
from turnout.checks.dependencies import DependenciesCheck
from turnout.checks.flags import FeatureFlagsCheck
from turnout.config import AnalysisConfig, ErrorRateSettings, OutageSettings, Policy, StabilizeConfig
from turnout.engine.gate import assess, done, progress, run_gate
from turnout.engine.watch import (
    Baseline,
    ErrorRateTrigger,
    LatencyTrigger,
    OutageTrigger,
    ProbeSampler,
    Tick,
    measure_baseline,
    triggers_for,
    watch,
)
from turnout.model import Color, Endpoint, Measurement, Release, Verdict

from .checks.checks_support import App, start_fakeapp

P, F, N, E = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.ERROR  # N: inconclusive


def series(*verdicts: Verdict) -> list[Measurement]:
    return [Measurement("c", v) for v in verdicts]


# -- the judge --

@pytest.mark.parametrize(("policy", "verdicts", "decided", "final"), [
    ({}, [P], None, P),
    ({}, [F], F, F),
    ({}, [N], N, N),
    ({}, [E], None, E),  # one error: retried, not decided; alone it stays ERROR
    ({}, [E, E, E, E, E], E, E),  # consecutive_error_limit 4 exceeded
    ({}, [E, E, P], None, P),  # errors then a pass: fine
    ({"failure_limit": 1}, [F], None, N),  # within the limit, but never passed
    ({"failure_limit": 1}, [F, P, P], None, P),
    ({"failure_limit": 1}, [F, P, F], F, F),
    ({"failure_limit": -1}, [F, F, F], None, N),  # failures ignored; no PASS, so not a pass either
    ({"inconclusive_limit": 2}, [N, N, P], None, P),
    ({"inconclusive_limit": 2}, [N, N, N], N, N),
    ({"consecutive_error_limit": 0}, [E], E, E),
    ({"consecutive_error_limit": -1}, [E] * 10, None, E),
    ({"consecutive_success_limit": 2, "count": 10}, [P, F], F, F),
    ({"consecutive_success_limit": 2, "count": 10, "failure_limit": 3}, [P, F, P, P], P, P),
    ({"failure_limit": 2}, [F, F, N], N, N),  # inconclusive_limit 0 decides first
    ({}, [], None, N),
])
def test_progress_and_assess(policy: dict[str, Any], verdicts: list[Verdict], decided: Verdict | None,
                             final: Verdict) -> None:
    p = Policy(**policy)
    assert progress(series(*verdicts), p) is decided
    assert assess(series(*verdicts), p) is final


def test_done_counts_no_errors() -> None:
    p = Policy(count=2)
    assert not done(series(P, E), p)
    assert done(series(P, E, F), p)


def test_policy_overrides() -> None:
    cfg = AnalysisConfig.model_validate({"count": 3, "interval": "1s", "checks": {"load": {"count": 1},
                                                                                  "latency": {"failure_limit": 2}}})
    assert cfg.policy_for("load") == Policy(count=1, interval=1.0)
    assert cfg.policy_for("latency") == Policy(count=3, interval=1.0, failure_limit=2)
    assert cfg.policy_for("other") == Policy(count=3, interval=1.0)
    with pytest.raises(ValueError, match="failure_limt"):
        AnalysisConfig.model_validate({"failure_limt": 1})


# -- the gate --

class Scripted:
    """A check that answers a fixed sequence of verdicts (a fake collaborator of the gate)."""

    def __init__(self, name: str, *verdicts: Verdict, delay: float = 0.0) -> None:
        self.name, self.verdicts, self.delay, self.calls = name, list(verdicts), delay, 0

    async def measure(self, target: Target) -> Measurement:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if not self.verdicts:
            raise RuntimeError("boom")
        return Measurement(self.name, self.verdicts.pop(0), self.calls, f"call {self.calls}")


TARGET = Target(url="http://127.0.0.1:1", color=Color.GREEN, release=Release("v2"))


async def test_gate_runs_in_order_and_stops_at_first_failure() -> None:
    a, b, c = Scripted("a", P, P), Scripted("b", P, F), Scripted("c", P)
    seen: list[str] = []
    r = await run_gate([a, b, c], TARGET, Policy(count=2), on_measurement=lambda m: seen.append(m.check))
    assert (r.verdict, r.failed_check) == (F, "b")
    assert seen == ["a", "a", "b", "b"] and c.calls == 0
    assert r.reason == "b fail after 2 measurements (1 pass, 1 fail; failure_limit 0, inconclusive_limit 0): call 2"


async def test_gate_retries_errors_and_limits_them() -> None:
    flaky = Scripted("flaky", E, E, P)
    r = await run_gate([flaky], TARGET, Policy())
    assert r.verdict is P and flaky.calls == 3  # errors did not use up count=1
    broken = Scripted("broken", E, E, E)
    r = await run_gate([broken], TARGET, Policy(consecutive_error_limit=2))
    assert (r.verdict, broken.calls) == (E, 3)
    crashing = Scripted("crash")
    r = await run_gate([crashing], TARGET, Policy(consecutive_error_limit=0))
    assert r.verdict is E and "check crashed: RuntimeError: boom" in r.reason
    slow = Scripted("slow", P, delay=1.0)
    r = await run_gate([slow], TARGET, Policy(timeout=0.05, consecutive_error_limit=0))
    assert r.verdict is E and "no result within 0.05s" in r.reason


async def test_gate_per_check_policy_and_early_success() -> None:
    a, b = Scripted("a", F, P, P, P), Scripted("b", P, P, P, P)
    cfg = AnalysisConfig(count=4, checks={"a": Policy(count=4, failure_limit=1, consecutive_success_limit=2)})
    r = await run_gate([a, b], TARGET, cfg)
    assert r.verdict is P and (a.calls, b.calls) == (3, 4)


@pytest.fixture
def app() -> Iterator[App]:
    a = start_fakeapp("--color", "green")
    yield a
    a.stop()


@pytest.fixture
def start() -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def make(*args: str) -> App:
        apps.append(start_fakeapp(*args))
        return apps[-1]

    yield make
    for a in apps:
        a.stop()


def target_of(app: App, baseline: App | None = None) -> Target:
    return Target(url=app.url, color=Color.GREEN, release=Release("v2"), endpoints=(Endpoint("127.0.0.1", app.port),),
                  baseline_url=baseline.url if baseline else "")


async def test_gate_with_real_checks(app: App) -> None:
    checks = [DependenciesCheck(), FeatureFlagsCheck()]
    r = await run_gate(checks, target_of(app), Policy())
    assert r.verdict is P and [m.check for m in r.measurements] == ["dependencies", "feature_flags"]
    app.fault(deps={"database": "down"})
    r = await run_gate(checks, target_of(app), Policy(count=3, interval=0.01, failure_limit=1))
    assert (r.verdict, r.failed_check, len(r.measurements)) == (F, "dependencies", 2)
    assert "database: status 'down'" in r.reason


# -- triggers on synthetic history --

def ticks(*bursts: tuple[int, int], latency: float = 0.001, step: float = 0.25) -> list[Tick]:
    return [Tick(at=i * step, requests=n, failed=f, latencies=(latency,) * (n - f), sample="x" if f else "")
            for i, (n, f) in enumerate(bursts)]


CLEAN = Baseline(requests=200, failed=0, latencies=tuple(0.001 + i * 1e-6 for i in range(200)))


@pytest.mark.parametrize(("trigger", "history", "baseline", "want"), [
    (OutageTrigger(), ticks((10, 10)), None, P),  # one bad burst is not an outage yet
    (OutageTrigger(), ticks((10, 0), (10, 10), (10, 10)), None, F),
    (OutageTrigger(), ticks((10, 10), (10, 9)), None, P),  # one probe got through
    (OutageTrigger(OutageSettings(consecutive=1)), ticks((10, 10)), None, F),
    (ErrorRateTrigger(), ticks((10, 10)), CLEAN, F),  # all failing against a clean baseline: first tick
    (ErrorRateTrigger(), ticks((10, 1)), CLEAN, P),  # one error in ten: could be chance
    (ErrorRateTrigger(), ticks(*[(10, 2)] * 8), CLEAN, F),  # 20% sustained over the lookback
    (ErrorRateTrigger(ErrorRateSettings(min_samples=50)), ticks((10, 10)), CLEAN, N),
    (ErrorRateTrigger(), ticks((10, 2)), Baseline(200, 40, ()), P),  # as bad as before the switch
    (ErrorRateTrigger(), ticks((10, 10)), None, F),  # no baseline: absolute tolerance
    (ErrorRateTrigger(ErrorRateSettings(lookback=0.5)), ticks(*[(10, 10)] * 3, *[(10, 0)] * 8), CLEAN, P),  # recovered
    (LatencyTrigger(), ticks(*[(10, 0)] * 10, latency=0.2), CLEAN, F),
    (LatencyTrigger(), ticks(*[(10, 0)] * 10, latency=0.0012), CLEAN, P),  # slower, but by 0.2 ms
    (LatencyTrigger(), ticks(*[(10, 0)] * 2, latency=0.2), CLEAN, N),  # too few samples yet
    (LatencyTrigger(), ticks(*[(10, 0)] * 10, latency=0.2), None, N),
])
def test_triggers(trigger: Any, history: Sequence[Tick], baseline: Baseline | None, want: Verdict) -> None:
    m = trigger.judge(history, baseline)
    assert m.verdict is want, m.detail


def test_stabilize_config() -> None:
    cfg = StabilizeConfig.model_validate({"window": "10m", "interval": "250ms", "latency": {"enabled": False},
                                          "error_rate": {"tolerance": 0.1}})
    assert cfg.window == 600 and cfg.interval == 0.25
    assert [t.name for t in triggers_for(cfg)] == ["outage", "error_rate"]
    with pytest.raises(ValueError, match="consecutiv"):
        StabilizeConfig.model_validate({"outage": {"consecutiv": 3}})


# -- the watch against a real app --

FAST = StabilizeConfig.model_validate({"interval": "100ms", "baseline": "500ms", "window": "10s",
                                       "latency": {"lookback": "1s", "min_samples": 30}})


async def watch_with(app: App, triggers: Any, baseline: Baseline | None = None, window: float = 10.0) -> Any:
    return await watch(triggers, ProbeSampler(target_of(app).url, FAST.probe), interval=FAST.interval,
                       window=window, baseline=baseline)


async def test_watch_quiet_window(app: App) -> None:
    base = await measure_baseline(target_of(app), FAST)
    assert 45 <= base.requests <= 51 and base.failed == 0  # 10 per 100 ms for 500 ms
    r = await watch_with(app, triggers_for(FAST), base, window=0.5)
    assert r.trigger is None and 3 <= r.ticks <= 6 and r.probes["failed"] == 0
    assert [m.check for m in r.measurements] == ["outage", "error_rate", "latency"]


async def test_watch_fires_on_error_spike_switched_on_at_run_time(app: App) -> None:
    base = await measure_baseline(target_of(app), FAST)
    loop = asyncio.get_running_loop()
    switched: list[float] = []

    def fault() -> None:
        switched.append(time.time())
        app.fault(error_rate=1.0)

    loop.call_later(0.35, fault)
    r = await watch_with(app, triggers_for(FAST), base)
    assert r.trigger == "error_rate" and "worse than baseline" in r.reason and "HTTP 503" in r.reason
    assert r.detected_at is not None and r.first_failure_at is not None
    assert switched[0] <= r.first_failure_at <= r.detected_at
    assert r.detected_at - switched[0] < 1.0  # generous: one 100 ms interval plus a burst


async def test_watch_fires_on_outage(app: App) -> None:
    app.stop()  # nothing listens any more: every probe fails to connect
    r = await watch_with(app, [OutageTrigger()])
    assert r.trigger == "outage" and r.ticks == 2 and "connect" in r.reason


async def test_watch_fires_on_latency(app: App) -> None:
    base = await measure_baseline(target_of(app), FAST)
    app.fault(latency_ms=40)
    r = await watch_with(app, triggers_for(FAST.model_copy(update={"latency": FAST.latency})), base)
    assert r.trigger == "latency" and r.reason.startswith("latency (probes): slower: "), r.reason
    assert r.ticks == 3  # a sequential test: no sample minimum, but no fewer than three bursts in a row


async def test_watch_stops_on_event(app: App) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.2, stop.set)
    r = await watch(triggers_for(FAST), ProbeSampler(target_of(app).url, FAST.probe), interval=0.1, window=30,
                    stop=stop)
    assert r.trigger is None and r.ticks <= 4 and r.stopped
