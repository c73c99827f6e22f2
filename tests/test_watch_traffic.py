"""The watch on real user traffic: windows of router counters, the sequential latency test on
histograms, low traffic never rolling back, and the traffic stream beside the probes."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

import pytest

from turnout.config import StabilizeConfig
from turnout.engine.watch import (
    PROBES,
    TRAFFIC,
    Baseline,
    ErrorRateTrigger,
    LatencyTrigger,
    OutageTrigger,
    Stream,
    Tick,
    TrafficSampler,
    baseline_data,
    baseline_of,
    triggers_for,
    watch_streams,
)
from turnout.errors import RouterError
from turnout.model import Color, ColorTraffic, Traffic, Verdict

BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def hist(**at: int) -> tuple[int, ...]:
    """Buckets with `n` requests in the bucket whose bound is `b`: hist(b0_005=3) -> 3 at 5 ms."""
    out = [0] * (len(BOUNDS) + 1)
    for key, n in at.items():
        bound = float(key[1:].replace("_", "."))
        out[BOUNDS.index(bound)] += n
    return tuple(out)


def window(i: int, requests: int, failed: int = 0, buckets: tuple[int, ...] | None = None) -> Tick:
    return Tick(at=i * 0.1, requests=requests, failed=failed, buckets=buckets or hist(b0_005=requests),
                bounds=BOUNDS, first_failure_at=i * 0.1 - 0.1 if failed else None)


# 2 s of 500 rps before the switch: medians around 3 ms, a few slow ones
BASE = Baseline(requests=1000, failed=2, latencies=(), buckets=hist(b0_0025=300, b0_005=680, b0_025=15, b0_1=5),
                bounds=BOUNDS)


def test_latency_fires_in_three_windows_when_users_get_200ms_more() -> None:
    trigger = LatencyTrigger()
    history = [window(i, 50) for i in range(20)]
    for i in range(20, 23):
        history.append(window(i, 50, buckets=hist(b0_25=50)))
        m = trigger.judge(history, BASE)
        assert (m.verdict is Verdict.FAIL) == (i == 22), (i, m.detail)
    assert "slower than 50.0ms" in m.detail  # median 3.2 ms + 25 ms, at the next bucket bound


def test_latency_one_stall_is_not_a_degradation() -> None:
    """A GC pause slows every request in flight at once: one window of slow requests, then normal."""
    history = [window(i, 50) for i in range(10)] + [window(10, 200, buckets=hist(b0_25=200))]
    history += [window(i, 50) for i in range(11, 40)]
    trigger = LatencyTrigger()
    assert all(trigger.judge(history[: n + 1], BASE).verdict is not Verdict.FAIL for n in range(len(history)))


def test_latency_needs_enough_baseline() -> None:
    thin = Baseline(5, 0, (), hist(b0_005=5), BOUNDS)
    m = LatencyTrigger().judge([window(i, 50, buckets=hist(b0_25=50)) for i in range(10)], thin)
    assert m.verdict is Verdict.INCONCLUSIVE and "too few baseline latencies" in m.detail


def test_latency_a_mix_shift_within_the_baselines_slow_share_passes() -> None:
    """Slow requests at twice the baseline's share (3 % instead of 1.5 %) are no degradation."""
    rng = random.Random(7)
    history = []
    for i in range(50):
        slow = sum(rng.random() < 0.03 for _ in range(50))
        history.append(window(i, 50, buckets=hist(b0_005=50 - slow, b0_1=slow) if slow else hist(b0_005=50)))
        assert LatencyTrigger().judge(history, BASE).verdict is not Verdict.FAIL


@pytest.mark.parametrize("seed", range(5))
def test_low_traffic_healthy_release_never_fires(seed: int) -> None:
    """One request a second for a 60 s watch in 100 ms windows (Flagger's false rollbacks at low
    traffic): whatever a single request does, no trigger may fire on it."""
    rng = random.Random(seed)
    triggers = triggers_for(StabilizeConfig(), TRAFFIC)
    history: list[Tick] = []
    for i in range(600):
        n = 1 if i % 10 == 0 else 0
        slow = n and rng.random() < 0.05  # an occasional slow request, as in the baseline
        failed = n if rng.random() < 0.02 else 0  # and a rare 5xx
        buckets = hist(b0_1=1) if slow else hist(b0_005=n)
        history = [*history[-60:], window(i, n, failed, buckets)]
        for trigger in triggers:
            m = trigger.judge(history, BASE)
            assert m.verdict is not Verdict.FAIL, (i, trigger.name, m.detail)


def test_low_traffic_verdicts_are_inconclusive() -> None:
    history = [window(i, 1 if i % 10 == 0 else 0, 1 if i % 10 == 0 else 0) for i in range(30)]
    m = ErrorRateTrigger().judge(history, BASE)
    assert m.verdict is Verdict.INCONCLUSIVE and "too few requests" in m.detail


@pytest.mark.parametrize(("windows", "want"), [
    ([(30, 30), (30, 30)], Verdict.FAIL),
    ([(3, 3), (2, 2)], Verdict.PASS),  # five failed user requests: too few to call it an outage
    ([(3, 3), (0, 0), (4, 4), (0, 0), (5, 5)], Verdict.FAIL),  # quiet windows do not break the streak
    ([(30, 30), (30, 29)], Verdict.PASS),  # one request got through
])
def test_outage_on_user_traffic(windows: Sequence[tuple[int, int]], want: Verdict) -> None:
    trigger = next(t for t in triggers_for(StabilizeConfig(), TRAFFIC) if isinstance(t, OutageTrigger))
    history = [window(i, n, f) for i, (n, f) in enumerate(windows)]
    assert trigger.judge(history, BASE).verdict is want


def test_error_spike_fires_on_the_first_window() -> None:
    history = [window(i, 50) for i in range(10)] + [window(10, 50, 20)]
    m = ErrorRateTrigger().judge(history, BASE)
    assert m.verdict is Verdict.FAIL and "worse than baseline" in m.detail


class Counters:
    """A TrafficSource whose counters the test moves by hand."""

    def __init__(self) -> None:
        self.colors = {c: ColorTraffic(0, 0, (0,) * (len(BOUNDS) + 1)) for c in Color}
        self.broken = False

    def add(self, color: Color, requests: int, errors: int = 0, bucket: float = 0.005) -> None:
        c = self.colors[color]
        buckets = list(c.buckets)
        buckets[BOUNDS.index(bucket)] += requests
        self.colors[color] = ColorTraffic(c.requests + requests, c.errors + errors, tuple(buckets))

    async def traffic(self) -> Traffic:
        if self.broken:
            raise RouterError("admin API down")
        return Traffic(0.0, BOUNDS, dict(self.colors))


async def test_sampler_windows_one_color() -> None:
    counters = Counters()
    sampler = TrafficSampler(counters, Color.GREEN)
    assert (await sampler.sample()).requests == 0  # the first reading only sets the start
    counters.add(Color.GREEN, 40, 4)
    counters.add(Color.BLUE, 99)
    tick = await sampler.sample()
    assert (tick.requests, tick.failed, tick.timed()) == (40, 4, 40) and tick.first_failure_at is not None
    counters.broken = True
    tick = await sampler.sample()
    assert (tick.requests, tick.failed) == (0, 0) and "unreadable" in tick.sample
    counters.broken = False
    counters.colors[Color.GREEN] = ColorTraffic(5, 0, hist(b0_005=5))  # the router restarted
    assert (await sampler.sample()).requests == 5


class Probes:
    async def sample(self) -> Tick:
        await asyncio.sleep(0)
        return Tick(0.0, 10, 0, (0.003,) * 10)


async def test_user_traffic_fires_before_the_probes() -> None:
    counters = Counters()
    cfg = StabilizeConfig()
    streams = [Stream(PROBES, Probes(), 0.25, triggers_for(cfg), Baseline(100, 0, (0.003,) * 100)),
               Stream(TRAFFIC, TrafficSampler(counters, Color.GREEN), 0.02, triggers_for(cfg, TRAFFIC), BASE)]

    async def users() -> None:
        for _ in range(10):
            counters.add(Color.GREEN, 20)
            await asyncio.sleep(0.02)
        for _ in range(100):
            counters.add(Color.GREEN, 20, 20)  # the release starts failing every user request
            await asyncio.sleep(0.02)

    load = asyncio.create_task(users())
    result = await watch_streams(streams, window=5.0)
    load.cancel()
    assert result.source == TRAFFIC and result.trigger in {"error_rate", "outage"}, result.reason
    assert "user traffic" in result.reason and result.probes["user_failed"] > 0


async def test_a_broken_sampler_is_raised_not_a_quiet_window() -> None:
    class Broken:
        async def sample(self) -> Tick:
            raise ValueError("bug")

    with pytest.raises(ValueError, match="bug"):
        await watch_streams([Stream(PROBES, Broken(), 0.1, [])], window=1.0)


def test_baselines_round_trip_and_old_records() -> None:
    stored = baseline_data({PROBES: Baseline(10, 1, (0.1,) * 9), TRAFFIC: BASE})
    assert baseline_of(stored) == {PROBES: Baseline(10, 1, (0.1,) * 9), TRAFFIC: BASE}
    assert baseline_of({"requests": 3, "failed": 0, "latencies": [0.1, 0.2, 0.3]}) == \
        {PROBES: Baseline(3, 0, (0.1, 0.2, 0.3))}  # what an agent before traffic triggers stored
