"""Synthetic traffic against the test endpoint before any user sees the release (seed: load, soak,
smoke tests), with limits on error rate and a latency quantile.

Three profiles of one check, differing only in defaults (override any of them per entry):

    kind            rps  duration  concurrency  max_error_rate
    smoke-traffic    10     10s         2            0
    load            100     60s        16            1%
    soak             20     30m         4            0.1%    + latency growth across segments

The soak runs as consecutive segments, so a release that slows down as it runs (a leak, a
filling cache or pool) fails on `max_latency_growth`: the last segment's quantile against the first.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from turnout.checks.base import Options, RunsFor, Target, stretched
from turnout.config import Duration
from turnout.measure.http import join
from turnout.measure.loadgen import LoadResult, run_load
from turnout.model import Measurement, Verdict


class TrafficOptions(Options):
    rps: float | None = Field(default=None, gt=0, description="None: as fast as `concurrency` connections go")
    duration: Duration = 10.0
    concurrency: int = Field(default=2, ge=1, le=1024)
    max_error_rate: float = Field(default=0.0, ge=0, le=1)
    max_latency: Duration | None = Field(default=None,
                                         description="limit on the `quantile` latency of successful requests")
    quantile: float = Field(default=0.99, gt=0, le=1)
    min_requests: int | None = Field(default=None, ge=1, description="default: half the requests the rate asks for")
    segments: int = Field(default=1, ge=1, le=100)
    max_latency_growth: float | None = Field(default=None, gt=1, description="last segment's quantile / first's")
    method: str = "GET"
    body: str | None = None
    request_timeout: Duration = 5.0


class LoadOptions(TrafficOptions):
    rps: float | None = Field(default=100, gt=0)
    duration: Duration = 60.0
    concurrency: int = Field(default=16, ge=1, le=1024)
    max_error_rate: float = Field(default=0.01, ge=0, le=1)


class SmokeTrafficOptions(TrafficOptions):
    rps: float | None = Field(default=10, gt=0)
    concurrency: int = Field(default=2, ge=1, le=1024)


class SoakOptions(TrafficOptions):
    rps: float | None = Field(default=20, gt=0)
    duration: Duration = 1800.0
    concurrency: int = Field(default=4, ge=1, le=1024)
    max_error_rate: float = Field(default=0.001, ge=0, le=1)
    segments: int = Field(default=6, ge=1, le=100)
    max_latency_growth: float | None = Field(default=2.0, gt=1)


class TrafficCheck(RunsFor):
    kind: ClassVar[str] = "load"
    Options: ClassVar[type[TrafficOptions]] = LoadOptions

    def __init__(self, opts: TrafficOptions | None = None, *, name: str | None = None, path: str = "/",
                 timeout_s: float | None = None) -> None:
        self.opts = opts or self.Options()
        self.name = name or self.kind
        self.path = path
        self.timeout = timeout_s or stretched(self._needs())  # what the gate may allow it

    def _needs(self) -> float:
        return self.opts.duration + self.opts.request_timeout


    async def measure(self, target: Target) -> Measurement:
        o = self.opts
        url = join(target.url, self.path)
        body = o.body.encode() if o.body is not None else None
        seg_len = o.duration / o.segments
        segments: list[LoadResult] = []
        for _ in range(o.segments):
            segments.append(await run_load(url, concurrency=o.concurrency, duration=seg_len, rps=o.rps,
                                           method=o.method, body=body, timeout=o.request_timeout))
            if segments[-1].unreachable:
                break
        total = segments[0]
        for seg in segments[1:]:
            total = total.merge(seg)
        data: dict[str, Any] = {"load": total.as_dict()}
        if total.unreachable:
            return Measurement(self.name, Verdict.ERROR, None, f"cannot connect to {url}: {total.error_samples[0]}",
                               data)
        expected = o.min_requests or (max(1, int(o.rps * o.duration * 0.5)) if o.rps else 1)
        q_lat = total.percentile(o.quantile)
        shape = (f"{total.requests} requests in {total.elapsed:.1f}s ({total.rps:.0f}/s), "
                 f"error rate {total.error_rate:.2%}, p{o.quantile * 100:g} {_ms(q_lat)}")
        problems = []
        if total.error_rate > o.max_error_rate:
            kinds = ", ".join(f"{k}={v}" for k, v in sorted(total.errors.items()))
            problems.append(f"error rate {total.error_rate:.2%} > {o.max_error_rate:.2%} ({kinds}; "
                            f"e.g. {total.error_samples[0] if total.error_samples else '-'})")
        if o.max_latency is not None and q_lat is not None and q_lat > o.max_latency:
            problems.append(f"p{o.quantile * 100:g} {_ms(q_lat)} > {_ms(o.max_latency)}")
        if o.max_latency_growth is not None and len(segments) >= 2:
            first, last = segments[0].percentile(o.quantile), segments[-1].percentile(o.quantile)
            if first and last:
                data["latency_growth"] = last / first
                if last / first > o.max_latency_growth:
                    problems.append(f"p{o.quantile * 100:g} grew {last / first:.1f}x from the first segment "
                                    f"({_ms(first)}) to the last ({_ms(last)}), limit {o.max_latency_growth:g}x")
        if problems:  # evidence of a problem counts even when fewer requests completed than asked
            return Measurement(self.name, Verdict.FAIL, total.error_rate, "; ".join(problems) + f" [{shape}]", data)
        if total.requests < expected:
            return Measurement(self.name, Verdict.INCONCLUSIVE, total.error_rate,
                               f"only {total.requests} requests completed (need {expected}): {shape}", data)
        return Measurement(self.name, Verdict.PASS, total.error_rate, shape, data)


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}ms"


class SmokeTrafficCheck(TrafficCheck):
    kind: ClassVar[str] = "smoke-traffic"
    Options = SmokeTrafficOptions


class LoadCheck(TrafficCheck):
    kind: ClassVar[str] = "load"


class SoakCheck(TrafficCheck):
    kind: ClassVar[str] = "soak"
    Options = SoakOptions
