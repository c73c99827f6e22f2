"""The post-switch watch: probe the live color and fire the first trigger that judges FAIL.

`watch` probes the live color every `interval` for the stabilize `window`: outage (every probe
failing N ticks in a row), error-rate spike or latency degradation against the baseline measured
before the switch. The triggers are pure functions of the probe history, so they are table-tested
without a network.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from turnout.checks.base import Target
from turnout.config import ErrorRateSettings, LatencySettings, OutageSettings, ProbeConfig, StabilizeConfig
from turnout.events import TriggerFired
from turnout.measure.loadgen import LoadResult, run_load
from turnout.measure.stats import Comparison, compare_error_rates, compare_latency, error_rate_within
from turnout.model import Measurement, Verdict


@dataclass(frozen=True)
class Tick:
    """One probe burst against the live color."""

    at: float  # time.time() when the burst ended
    requests: int
    failed: int
    latencies: tuple[float, ...] = ()
    first_failure_at: float | None = None
    sample: str = ""  # one error message, for the human reading why it fired

    @classmethod
    def of(cls, r: LoadResult) -> Tick:
        return cls(r.ended, r.requests, r.failed, tuple(r.latencies), r.first_failure_at,
                   r.error_samples[0] if r.error_samples else "")


@dataclass(frozen=True)
class Baseline:
    """The live color's behaviour just before the switch: what the new one is held against."""

    requests: int
    failed: int
    latencies: tuple[float, ...]

    @classmethod
    def of(cls, r: LoadResult) -> Baseline:
        return cls(r.requests, r.failed, tuple(r.latencies))


class Trigger(Protocol):
    """A pure judge of the probe history: FAIL fires it; ERROR or INCONCLUSIVE never do."""

    name: ClassVar[str]

    def span(self, interval: float) -> float:
        """How many seconds of probe history it judges (the watch keeps at least that much)."""

    def judge(self, ticks: Sequence[Tick], baseline: Baseline | None) -> Measurement: ...


def _recent(ticks: Sequence[Tick], lookback: float) -> list[Tick]:
    return [t for t in ticks if t.at >= ticks[-1].at - lookback] if ticks else []


class OutageTrigger:
    name: ClassVar[str] = "outage"

    def __init__(self, settings: OutageSettings | None = None) -> None:
        settings = settings or OutageSettings()
        self.consecutive = settings.consecutive

    def span(self, interval: float) -> float:
        return interval * self.consecutive

    def judge(self, ticks: Sequence[Tick], baseline: Baseline | None) -> Measurement:
        streak = 0
        for t in reversed(ticks):
            if not (t.requests and t.failed == t.requests):
                break
            streak += 1
        if streak >= self.consecutive:
            return Measurement(self.name, Verdict.FAIL, streak, f"every probe failed {streak} times in a row "
                               f"(last: {ticks[-1].sample})")
        return Measurement(self.name, Verdict.PASS, streak, f"{streak} all-failed probe bursts in a row")


class ErrorRateTrigger:
    name: ClassVar[str] = "error_rate"

    def __init__(self, settings: ErrorRateSettings | None = None) -> None:
        settings = settings or ErrorRateSettings()
        self.lookback, self.tolerance, self.alpha = settings.lookback, settings.tolerance, settings.alpha
        self.min_samples = settings.min_samples

    def span(self, interval: float) -> float:
        return self.lookback

    def judge(self, ticks: Sequence[Tick], baseline: Baseline | None) -> Measurement:
        recent = _recent(ticks, self.lookback)
        results = [self._compare([ticks[-1]], baseline), self._compare(recent, baseline)] if ticks else []
        c = next((r for r in results if r.verdict is Verdict.FAIL), results[-1] if results else None)
        if c is None:
            return Measurement(self.name, Verdict.INCONCLUSIVE, None, "no probes yet")
        sample = next((t.sample for t in reversed(recent) if t.sample), "")
        return Measurement(self.name, c.verdict, c.canary, c.detail + (f" (e.g. {sample})" if sample else ""),
                           c.as_dict())

    def _compare(self, ticks: Sequence[Tick], baseline: Baseline | None) -> Comparison:
        failed, total = sum(t.failed for t in ticks), sum(t.requests for t in ticks)
        if baseline is not None:
            return compare_error_rates(failed, total, baseline.failed, baseline.requests, alpha=self.alpha,
                                       tolerance=self.tolerance, min_samples=self.min_samples)
        return error_rate_within(failed, total, max_rate=self.tolerance, min_samples=self.min_samples)


class LatencyTrigger:
    name: ClassVar[str] = "latency"

    def __init__(self, settings: LatencySettings | None = None) -> None:
        settings = settings or LatencySettings()
        self.lookback, self.max_increase, self.min_shift = settings.lookback, settings.max_increase, settings.min_shift
        self.alpha, self.min_samples = settings.alpha, settings.min_samples

    def span(self, interval: float) -> float:
        return self.lookback

    def judge(self, ticks: Sequence[Tick], baseline: Baseline | None) -> Measurement:
        if baseline is None:
            return Measurement(self.name, Verdict.INCONCLUSIVE, None, "no baseline to compare latency with")
        window = [x for t in _recent(ticks, self.lookback) for x in t.latencies]
        c = compare_latency(window, baseline.latencies, alpha=self.alpha, min_samples=self.min_samples,
                            max_increase=self.max_increase, min_shift=self.min_shift)
        return Measurement(self.name, c.verdict, c.canary, c.detail, c.as_dict())


@dataclass(frozen=True)
class WatchResult:
    trigger: str | None  # the trigger that fired; None: the window passed quietly
    measurements: list[Measurement]  # each trigger's last judgement
    detected_at: float | None = None  # time.time() when it fired
    first_failure_at: float | None = None  # earliest failing probe in the trigger's lookback
    reason: str = ""
    ticks: int = 0
    probes: dict[str, int] = field(default_factory=dict)
    stopped: bool = False  # ended early because a command asked (not because the window passed)

    def evidence(self) -> TriggerFired:
        return TriggerFired(trigger=self.trigger or "", reason=self.reason, detected_at=self.detected_at,
                            first_failure_at=self.first_failure_at, ticks=self.ticks, probes=dict(self.probes),
                            judgements=tuple(self.measurements))


class Sampler(Protocol):
    """Where the watch's ticks come from: what the live color did since the last sample."""

    async def sample(self) -> Tick: ...


class ProbeSampler:
    """Probe bursts: `cfg.requests` requests to the URL per sample, bounded by the request timeout."""

    def __init__(self, url: str, cfg: ProbeConfig) -> None:
        self.url, self.cfg = url.rstrip("/") + cfg.path, cfg

    async def sample(self) -> Tick:
        cfg = self.cfg
        return Tick.of(await run_load(self.url, concurrency=cfg.concurrency, duration=cfg.timeout + 1.0,
                                      max_requests=cfg.requests, timeout=cfg.timeout))


def baseline_of(data: dict[str, Any] | None) -> Baseline | None:
    """A baseline stored with an operation, back as a Baseline."""
    if not data:
        return None
    return Baseline(int(data["requests"]), int(data["failed"]), tuple(float(x) for x in data["latencies"]))


async def sample_baseline(sampler: Sampler, seconds: float, interval: float) -> Baseline:
    """The live color before the switch, sampled the way the watch will sample the new one: one
    sample per `interval` for `seconds`."""
    loop = asyncio.get_running_loop()
    end, ticks = loop.time() + seconds, []
    while True:
        next_at = loop.time() + interval
        ticks.append(await sampler.sample())
        if next_at >= end:
            break
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    return Baseline(sum(t.requests for t in ticks), sum(t.failed for t in ticks),
                    tuple(x for t in ticks for x in t.latencies))


async def measure_baseline(target: Target, cfg: StabilizeConfig) -> Baseline:
    """Probe the live color (the production URL, before the switch) for `baseline` seconds."""
    return await sample_baseline(ProbeSampler(target.baseline_url or target.url, cfg.probe), cfg.baseline,
                                 cfg.interval)


async def watch(triggers: Sequence[Trigger], sampler: Sampler, *, interval: float, window: float,
                baseline: Baseline | None = None, stop: asyncio.Event | None = None) -> WatchResult:
    """Sample the live color every `interval` for `window` seconds; return as soon as a trigger
    judges FAIL, or `stop` is set. ERROR/INCONCLUSIVE judgements never fire: no data is no rollback."""
    lookback = max([t.span(interval) for t in triggers] + [interval * 10])
    history: deque[Tick] = deque(maxlen=int(lookback / interval) + 2)
    last: dict[str, Measurement] = {}
    totals = {"requests": 0, "failed": 0}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + window
    n = 0
    while loop.time() < deadline and not (stop is not None and stop.is_set()):
        started = loop.time()
        tick = await sampler.sample()
        history.append(tick)
        n += 1
        totals["requests"] += tick.requests
        totals["failed"] += tick.failed
        seen = list(history)
        for trigger in triggers:
            m = trigger.judge(seen, baseline)
            last[trigger.name] = m
            if m.verdict is Verdict.FAIL:
                firsts = [t.first_failure_at for t in _recent(seen, trigger.span(interval))
                          if t.first_failure_at is not None]
                return WatchResult(trigger.name, list(last.values()), time.time(), min(firsts, default=None),
                                   f"{trigger.name}: {m.detail}", n, totals)
        if (pause := started + interval - loop.time()) > 0:
            if stop is None:
                await asyncio.sleep(pause)
            else:
                try:
                    async with asyncio.timeout(pause):
                        await stop.wait()
                except TimeoutError:
                    pass
    if stop is not None and stop.is_set():
        return WatchResult(None, list(last.values()), None, None,
                           f"watch ended early after {n} samples over {loop.time() - deadline + window:.1f}s", n,
                           totals, stopped=True)
    return WatchResult(None, list(last.values()), None, None,
                       f"no trigger fired in {n} samples over {window:g}s", n, totals)


def triggers_for(cfg: StabilizeConfig) -> list[Trigger]:
    """The enabled triggers of a [stabilize] section, ready to judge."""
    built: list[tuple[bool, Trigger]] = [(cfg.outage.enabled, OutageTrigger(cfg.outage)),
                                         (cfg.error_rate.enabled, ErrorRateTrigger(cfg.error_rate)),
                                         (cfg.latency.enabled, LatencyTrigger(cfg.latency))]
    return [trigger for enabled, trigger in built if enabled]
