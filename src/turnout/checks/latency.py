"""Seed step 4: a latency quantile (p99 by default) of the new release under a limit.

source = "metrics" (default) reads the app's own Prometheus histogram (or summary) from every
instance and merges the buckets; with `window` it scrapes twice that far apart and judges only
what happened in between, else everything since the instances started (the traffic of earlier
checks). source = "load" sends its own traffic to the test endpoint and times it.

    [[checks]]
    kind = "latency"
    max = "250ms"
    metrics = { duration = "http_request_duration_seconds" }
"""

from __future__ import annotations

import asyncio
from typing import ClassVar, Literal

from pydantic import Field

from turnout.checks.base import Options, RunsFor, Target, stretched
from turnout.config import Duration
from turnout.measure.http import instance_urls, join
from turnout.measure.loadgen import run_load
from turnout.measure.prometheus import MetricsError, RequestMetrics, Scrape, latency_quantile, scrape_all
from turnout.model import Measurement, Verdict


class LatencyOptions(Options):
    max: Duration
    quantile: float = Field(default=0.99, gt=0, le=1)
    source: Literal["metrics", "load"] = "metrics"
    min_samples: int = Field(default=50, ge=1)
    metrics: RequestMetrics = RequestMetrics()
    window: Duration = Field(default=0.0,
                             description="metrics: judge only this last stretch (0: since the instances started)")
    rps: float = Field(default=50, gt=0, description="load: what to send to `path` on the test endpoint")
    duration: Duration = 5.0
    concurrency: int = Field(default=4, ge=1)


class LatencyCheck(RunsFor):
    kind: ClassVar[str] = "latency"
    Options = LatencyOptions

    def __init__(self, opts: LatencyOptions, *, name: str = "latency", path: str = "/",
                 timeout_s: float | None = None) -> None:
        self.opts, self.name, self.path = opts, name, path
        self.timeout = timeout_s or stretched(self._needs())

    def _needs(self) -> float:
        return self.opts.window if self.opts.source == "metrics" else self.opts.duration


    async def measure(self, target: Target) -> Measurement:
        o = self.opts
        label = f"p{o.quantile * 100:g}"
        if o.source == "load":
            url = join(target.url, self.path)
            result = await run_load(url, concurrency=o.concurrency, duration=o.duration, rps=o.rps)
            if result.unreachable:
                return Measurement(self.name, Verdict.ERROR, None, f"cannot connect to {url}")
            value, count = result.percentile(o.quantile), float(result.latency_count)
            where = f"{result.ok}/{result.requests} successful requests to {url}"
        else:
            urls = [join(u, o.metrics.path) for u in instance_urls(target.url, target.endpoints)]
            try:
                before: Scrape | None = None
                if o.window > 0:
                    before = await scrape_all(urls)
                    await asyncio.sleep(o.window)
                after = await scrape_all(urls)
                value, count = latency_quantile(before, after, o.metrics.duration, o.quantile, o.metrics.match)
            except MetricsError as exc:
                return Measurement(self.name, Verdict.ERROR, None, str(exc))
            span = f"the last {o.window:g}s" if o.window else "since start"
            where = f"{count:.0f} requests {span} in {o.metrics.duration} on {len(urls)} instance(s)"
        data = {"quantile": o.quantile, "samples": count, "limit": o.max}
        if value is None or count < o.min_samples:
            return Measurement(self.name, Verdict.INCONCLUSIVE, value,
                               f"too little data for {label}: {where} (need {o.min_samples})", data)
        text = f"{label} {value * 1000:.1f}ms (limit {o.max * 1000:.0f}ms) over {where}"
        if value > o.max:
            return Measurement(self.name, Verdict.FAIL, value, f"too slow: {text}", data)
        return Measurement(self.name, Verdict.PASS, value, text, data)
