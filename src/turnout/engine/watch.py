"""The post-switch watch: judge the live color and fire the first trigger that judges FAIL.

Two streams feed it. **Traffic**: the router's own counters of real user requests to the color
(requests, 5xx, a latency histogram), read every ~100 ms: what users get, judged within a window.
**Probes**: bursts the watch sends itself, every `interval`: they decide when there is too little
user traffic to say anything (then traffic judgements are inconclusive, never a rollback). Each
stream has its own history and baseline (the live color before the switch, sampled the same way).

Triggers are pure functions of a stream's history, table-tested without a network: outage (every
request failing N windows in a row), error-rate spike (Fisher's exact test against the baseline),
latency degradation (a sequential test on slow requests, so it needs only as much evidence as the
degradation makes, not a fixed sample count).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol

from turnout.checks.base import Target
from turnout.config import ErrorRateSettings, LatencySettings, OutageSettings, ProbeConfig, StabilizeConfig
from turnout.errors import TurnoutError
from turnout.events import TriggerFired
from turnout.measure import histogram
from turnout.measure.loadgen import LoadResult, run_load
from turnout.measure.stats import Comparison, compare_error_rates, error_rate_within
from turnout.model import Color, Measurement, Verdict
from turnout.routers.base import TrafficSource

PROBES, TRAFFIC = "probes", "traffic"


@dataclass(frozen=True)
class Tick:
    """One sample of the live color: a probe burst, or a window of user traffic."""

    at: float  # time.time() when the sample ended
    requests: int
    failed: int
    latencies: tuple[float, ...] = ()  # probes: each answered request's latency
    first_failure_at: float | None = None
    sample: str = ""  # one error message, for the human reading why it fired
    buckets: tuple[int, ...] = ()  # traffic: requests per latency bucket (+Inf last)
    bounds: tuple[float, ...] = ()  # the buckets' upper bounds, seconds

    @classmethod
    def of(cls, r: LoadResult) -> Tick:
        return cls(r.ended, r.requests, r.failed, tuple(r.latencies), r.first_failure_at,
                   r.error_samples[0] if r.error_samples else "")

    def timed(self) -> int:
        return sum(self.buckets) if self.bounds else len(self.latencies)

    def slower_than(self, threshold: float) -> int:
        """Requests that took longer than `threshold` (for buckets: a bucket bound, see `snap`)."""
        if self.bounds:
            return sum(n for lower, n in zip((0.0, *self.bounds), self.buckets, strict=False) if lower >= threshold)
        return sum(1 for x in self.latencies if x > threshold)


@dataclass(frozen=True)
class Baseline:
    """The live color's behaviour just before the switch: what the new one is held against."""

    requests: int
    failed: int
    latencies: tuple[float, ...]
    buckets: tuple[int, ...] = ()
    bounds: tuple[float, ...] = ()

    @classmethod
    def of(cls, r: LoadResult) -> Baseline:
        return cls(r.requests, r.failed, tuple(r.latencies))

    @classmethod
    def of_ticks(cls, ticks: Sequence[Tick]) -> Baseline:
        bounds = next((t.bounds for t in ticks if t.bounds), ())
        buckets = [0] * (len(bounds) + 1) if bounds else []
        for t in ticks:
            if t.bounds == bounds and len(t.buckets) == len(buckets):
                buckets = [a + b for a, b in zip(buckets, t.buckets, strict=True)]
        return cls(sum(t.requests for t in ticks), sum(t.failed for t in ticks),
                   tuple(x for t in ticks for x in t.latencies), tuple(buckets), bounds)

    def as_tick(self) -> Tick:
        return Tick(0.0, self.requests, self.failed, self.latencies, buckets=self.buckets, bounds=self.bounds)

    def median(self) -> float | None:
        if self.bounds:
            return histogram.quantile(self.bounds, self.buckets, 0.5)
        ordered = sorted(self.latencies)
        return ordered[len(ordered) // 2] if ordered else None


class Trigger(Protocol):
    """A pure judge of a stream's history: FAIL fires it; ERROR or INCONCLUSIVE never do."""

    name: ClassVar[str]

    def span(self, interval: float) -> float:
        """How many seconds of history it judges (the watch keeps at least that much)."""

    def judge(self, ticks: Sequence[Tick], baseline: Baseline | None) -> Measurement: ...


def _recent(ticks: Sequence[Tick], lookback: float) -> list[Tick]:
    return [t for t in ticks if t.at >= ticks[-1].at - lookback] if ticks else []


class OutageTrigger:
    name: ClassVar[str] = "outage"

    def __init__(self, settings: OutageSettings | None = None, min_requests: int = 1) -> None:
        settings = settings or OutageSettings()
        self.consecutive = settings.consecutive
        self.min_requests = min_requests  # over the streak: a couple of failed user requests is no outage

    def span(self, interval: float) -> float:
        return interval * self.consecutive

    def judge(self, ticks: Sequence[Tick], baseline: Baseline | None) -> Measurement:
        streak = failed = 0
        for t in reversed(ticks):
            if not t.requests:
                continue  # a window without requests neither breaks nor extends the streak
            if t.failed != t.requests:
                break
            streak, failed = streak + 1, failed + t.failed
        if streak >= self.consecutive and failed >= self.min_requests:
            return Measurement(self.name, Verdict.FAIL, streak, f"every request failed {streak} times in a row "
                               f"({failed} requests; last: {ticks[-1].sample or 'HTTP 5xx'})")
        return Measurement(self.name, Verdict.PASS, streak, f"{streak} all-failed samples in a row")


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
            return Measurement(self.name, Verdict.INCONCLUSIVE, None, "no samples yet")
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
    """A CUSUM (repeated sequential probability ratio test) on "slow" requests: slower than the
    baseline median plus `max_increase` of it (at least `min_shift`). Under the baseline a request
    is slow with probability p0 (measured, at least 1 %); a degraded color makes at least half its
    requests slow. Each request adds its log-likelihood ratio; the test fires when the sum reaches
    log(HORIZON / alpha), so at `alpha` a healthy color raises a false alarm less than once in
    HORIZON requests. One sample adds at most a third of that: a single stall that slows many
    requests at once (a GC pause) is not enough, it takes at least three samples in a row."""

    name: ClassVar[str] = "latency"
    HORIZON = 10_000
    P0_FLOOR, P1 = 0.01, 0.5

    def __init__(self, settings: LatencySettings | None = None) -> None:
        settings = settings or LatencySettings()
        self.lookback, self.max_increase, self.min_shift = settings.lookback, settings.max_increase, settings.min_shift
        self.alpha, self.min_samples = settings.alpha, settings.min_samples

    def span(self, interval: float) -> float:
        return self.lookback

    def judge(self, ticks: Sequence[Tick], baseline: Baseline | None) -> Measurement:
        if baseline is None:
            return Measurement(self.name, Verdict.INCONCLUSIVE, None, "no baseline to compare latency with")
        median, timed = baseline.median(), baseline.as_tick().timed()
        if median is None or timed < self.min_samples:
            return Measurement(self.name, Verdict.INCONCLUSIVE, None,
                               f"too few baseline latencies ({timed}; need {self.min_samples})")
        threshold = snap(median + max(self.max_increase * median, self.min_shift), baseline.bounds)
        if threshold is None:
            return Measurement(self.name, Verdict.INCONCLUSIVE, None, "the baseline is slower than the histogram's "
                               "last bucket: latency cannot be judged from it")
        slow_before = baseline.as_tick().slower_than(threshold)
        p0 = max(self.P0_FLOOR, (slow_before + 1) / (timed + 2))
        if p0 >= self.P1:
            return Measurement(self.name, Verdict.INCONCLUSIVE, None,
                               f"{p0:.0%} of baseline requests were already slower than {threshold * 1000:.1f}ms")
        up, down = math.log(self.P1 / p0), math.log((1 - self.P1) / (1 - p0))
        limit = math.log(self.HORIZON / self.alpha)
        score = peak = 0.0
        slow = seen = samples = 0
        for t in _recent(ticks, self.lookback):
            n = t.timed()
            if not n:
                continue
            k = t.slower_than(threshold)
            score = max(0.0, score + min(limit / 3, k * up + (n - k) * down))
            peak, slow, seen, samples = max(peak, score), slow + k, seen + n, samples + 1
        detail = (f"{slow} of {seen} requests slower than {threshold * 1000:.1f}ms (baseline median "
                  f"{median * 1000:.1f}ms, {p0:.1%} slow before); evidence {score:.1f} of {limit:.1f}")
        data: dict[str, Any] = {"threshold": threshold, "p0": p0, "score": score, "limit": limit,
                                "slow": slow, "timed": seen, "baseline_median": median}
        if score >= limit - 1e-9:  # three capped samples make exactly the limit
            return Measurement(self.name, Verdict.FAIL, slow / seen if seen else None, "slower: " + detail, data)
        verdict = Verdict.PASS if samples >= 3 else Verdict.INCONCLUSIVE
        return Measurement(self.name, verdict, slow / seen if seen else None, detail, data)


def snap(threshold: float, bounds: Sequence[float]) -> float | None:
    """For a histogram, the smallest bucket bound at or above `threshold`: "slow" can only be told
    at a bound. Without buckets the threshold itself; None beyond the last bound."""
    if not bounds:
        return threshold
    return next((b for b in bounds if b >= threshold), None)


@dataclass(frozen=True)
class WatchResult:
    trigger: str | None  # the trigger that fired; None: the window passed quietly
    measurements: list[Measurement]  # each trigger's last judgement
    detected_at: float | None = None  # time.time() when it fired
    first_failure_at: float | None = None  # earliest failing sample in the trigger's lookback
    reason: str = ""
    ticks: int = 0
    probes: dict[str, int] = field(default_factory=dict)
    stopped: bool = False  # ended early because a command asked (not because the window passed)
    source: str = ""  # the stream whose trigger fired: "traffic" (user requests) or "probes"

    def evidence(self) -> TriggerFired:
        return TriggerFired(trigger=self.trigger or "", reason=self.reason, detected_at=self.detected_at,
                            first_failure_at=self.first_failure_at, ticks=self.ticks, probes=dict(self.probes),
                            judgements=tuple(self.measurements))


class Sampler(Protocol):
    """Where a stream's ticks come from: what the live color did since the last sample."""

    async def sample(self) -> Tick: ...


class ProbeSampler:
    """Probe bursts: `cfg.requests` requests to the URL per sample, bounded by the request timeout."""

    def __init__(self, url: str, cfg: ProbeConfig) -> None:
        self.url, self.cfg = url.rstrip("/") + cfg.path, cfg

    async def sample(self) -> Tick:
        cfg = self.cfg
        return Tick.of(await run_load(self.url, concurrency=cfg.concurrency, duration=cfg.timeout + 1.0,
                                      max_requests=cfg.requests, timeout=cfg.timeout))


class TrafficSampler:
    """Windows of the router's counters for one color: each sample is what users sent it since the
    last one. A reading that fails gives an empty window (no verdict), never a failed one."""

    def __init__(self, source: TrafficSource, color: Color) -> None:
        self.source, self.color = source, color
        self._last: Any = None
        self._last_wall = 0.0

    async def sample(self) -> Tick:
        try:
            reading = await self.source.traffic()
        except TurnoutError as exc:
            return Tick(time.time(), 0, 0, sample=f"traffic counters unreadable: {exc}")
        now = time.time()
        last, since = self._last, self._last_wall
        self._last, self._last_wall = reading, now
        if last is None:
            return Tick(now, 0, 0, bounds=reading.bounds, buckets=(0,) * (len(reading.bounds) + 1))
        w = reading.since(last)[self.color]
        buckets = w.buckets if len(w.buckets) == len(reading.bounds) + 1 else (0,) * (len(reading.bounds) + 1)
        return Tick(now, w.requests, w.errors, first_failure_at=since if w.errors else None,
                    sample=f"{w.errors} of {w.requests} user requests answered 5xx" if w.errors else "",
                    buckets=buckets, bounds=reading.bounds)


@dataclass
class Stream:
    """One source of samples with its own triggers, pace and baseline."""

    name: str  # PROBES or TRAFFIC
    sampler: Sampler
    interval: float
    triggers: Sequence[Trigger]
    baseline: Baseline | None = None


def baseline_of(data: dict[str, Any] | None) -> dict[str, Baseline]:
    """Baselines stored with an operation, back as Baselines by stream (an older record holds one
    probe baseline)."""
    if not data:
        return {}
    if "requests" in data:
        data = {PROBES: data}
    return {name: Baseline(int(b["requests"]), int(b["failed"]), tuple(float(x) for x in b["latencies"]),
                           tuple(int(x) for x in b.get("buckets", ())), tuple(float(x) for x in b.get("bounds", ())))
            for name, b in data.items() if b}


def baseline_data(baselines: dict[str, Baseline]) -> dict[str, Any] | None:
    return {name: asdict(b) for name, b in baselines.items()} or None


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
    return Baseline.of_ticks(ticks)


async def sample_baselines(streams: Sequence[Stream], seconds: float) -> dict[str, Baseline]:
    """Every stream's baseline, sampled side by side."""
    found = await asyncio.gather(*(sample_baseline(s.sampler, seconds, s.interval) for s in streams))
    return {s.name: b for s, b in zip(streams, found, strict=True)}


async def measure_baseline(target: Target, cfg: StabilizeConfig) -> Baseline:
    """Probe the live color (the production URL, before the switch) for `baseline` seconds."""
    return await sample_baseline(ProbeSampler(target.baseline_url or target.url, cfg.probe), cfg.baseline,
                                 cfg.interval)


async def watch(triggers: Sequence[Trigger], sampler: Sampler, *, interval: float, window: float,
                baseline: Baseline | None = None, stop: asyncio.Event | None = None) -> WatchResult:
    """One stream of samples every `interval` for `window` seconds (see `watch_streams`)."""
    return await watch_streams([Stream(PROBES, sampler, interval, triggers, baseline)], window=window, stop=stop)


async def watch_streams(streams: Sequence[Stream], *, window: float, stop: asyncio.Event | None = None) -> WatchResult:
    """Sample every stream at its own pace for `window` seconds; return as soon as a trigger judges
    FAIL, or `stop` is set. ERROR/INCONCLUSIVE judgements never fire: no data is no rollback."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + window
    last: dict[str, Measurement] = {}
    totals = {"requests": 0, "failed": 0}
    counts = {"ticks": 0}
    fired: asyncio.Future[WatchResult | None] = loop.create_future()

    async def run(stream: Stream) -> None:
        lookback = max([t.span(stream.interval) for t in stream.triggers] + [stream.interval * 10])
        history: deque[Tick] = deque(maxlen=int(lookback / stream.interval) + 2)
        while loop.time() < deadline and not fired.done():
            started = loop.time()
            tick = await stream.sampler.sample()
            history.append(tick)
            counts["ticks"] += 1
            if stream.name == PROBES:
                totals["requests"] += tick.requests
                totals["failed"] += tick.failed
            else:
                totals["user_requests"] = totals.get("user_requests", 0) + tick.requests
                totals["user_failed"] = totals.get("user_failed", 0) + tick.failed
            seen = list(history)
            for trigger in stream.triggers:
                m = trigger.judge(seen, stream.baseline)
                key = trigger.name if stream.name == PROBES else f"{stream.name}.{trigger.name}"
                last[key] = Measurement(key, m.verdict, m.value, m.detail, m.data)
                if m.verdict is Verdict.FAIL and not fired.done():
                    firsts = [t.first_failure_at for t in _recent(seen, trigger.span(stream.interval))
                              if t.first_failure_at is not None]
                    where = "user traffic" if stream.name == TRAFFIC else "probes"
                    fired.set_result(WatchResult(trigger.name, list(last.values()), time.time(),
                                                 min(firsts, default=None), f"{trigger.name} ({where}): {m.detail}",
                                                 counts["ticks"], dict(totals), source=stream.name))
                    return
            if (pause := started + stream.interval - loop.time()) > 0:
                await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))

    async def guarded(stream: Stream) -> None:
        try:
            await run(stream)
        except Exception as exc:  # a broken sampler is a bug, not a quiet window: the caller sees it
            if not fired.done():
                fired.set_exception(exc)
            return
        running.discard(stream.name)
        if not running and not fired.done():
            fired.set_result(None)  # every stream reached the deadline quietly

    running = {s.name for s in streams}
    runners = [asyncio.ensure_future(guarded(s)) for s in streams]
    stopper = asyncio.ensure_future((stop or asyncio.Event()).wait())  # without a stop event: never
    try:
        waiting: list[asyncio.Future[Any]] = [fired, stopper]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (*runners, stopper):
            task.cancel()
        await asyncio.gather(*runners, stopper, return_exceptions=True)
    if fired.done() and (result := fired.result()) is not None:
        return result
    if stop is not None and stop.is_set():
        return WatchResult(None, list(last.values()), None, None,
                           f"watch ended early after {counts['ticks']} samples over "
                           f"{loop.time() - deadline + window:.1f}s", counts["ticks"], dict(totals), stopped=True)
    return WatchResult(None, list(last.values()), None, None,
                       f"no trigger fired in {counts['ticks']} samples over {window:g}s", counts["ticks"],
                       dict(totals))


def triggers_for(cfg: StabilizeConfig, stream: str = PROBES) -> list[Trigger]:
    """The enabled triggers of a [stabilize] section, ready to judge one stream. User traffic needs
    `error_rate.min_samples` failed requests in a row before it is an outage; a probe burst is one."""
    min_requests = cfg.error_rate.min_samples if stream == TRAFFIC else 1
    built: list[tuple[bool, Trigger]] = [(cfg.outage.enabled, OutageTrigger(cfg.outage, min_requests)),
                                         (cfg.error_rate.enabled, ErrorRateTrigger(cfg.error_rate)),
                                         (cfg.latency.enabled, LatencyTrigger(cfg.latency))]
    return [trigger for enabled, trigger in built if enabled]
