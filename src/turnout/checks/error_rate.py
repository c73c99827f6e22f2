"""Seed step 7: the idle color's error rate against the live one's, with statistics.

source = "load" (default) sends the same synthetic traffic to the test endpoint (new release) and
to the production endpoint (live release, the baseline) at the same time, then compares them
with Fisher's exact test plus a tolerance (checks.stats). source = "metrics" compares the request
counters both colors already expose over `window`: each color's own /metrics, or one scrape of
`metrics_url` (the builtin proxy; or target.metrics_url, with the bearer header in
target.metrics_authorization) split by the `color_label`. Without a baseline URL only the
absolute `max` applies. Too few requests on either side is INCONCLUSIVE.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, Literal

from pydantic import Field

from turnout.checks.base import Options, RunsFor, Target, stretched
from turnout.config import Duration
from turnout.measure.http import instance_urls, join
from turnout.measure.loadgen import run_load
from turnout.measure.prometheus import MetricsError, RequestMetrics, Scrape, error_counts, scrape_all
from turnout.measure.stats import Comparison, compare_error_rates, error_rate_within
from turnout.model import Measurement, Verdict


class ErrorRateOptions(Options):
    source: Literal["load", "metrics"] = "load"
    tolerance: float = Field(default=0.01, ge=0, le=1, description="how much worse than the baseline is acceptable")
    alpha: float = Field(default=0.02, gt=0, lt=1, description="Kayenta's 98% confidence")
    min_samples: int = Field(default=100, ge=1)
    max: float | None = Field(default=None, ge=0, le=1, description="absolute limit; the only one without a baseline")
    rps: float = Field(default=50, gt=0)
    duration: Duration = 5.0
    concurrency: int = Field(default=4, ge=1)
    window: Duration = 10.0
    metrics: RequestMetrics = RequestMetrics()
    metrics_url: str | None = Field(default=None,
                                    description="one scrape holding both colors (the builtin proxy's /metrics)")
    metrics_headers: dict[str, str] = Field(default={}, description="e.g. Authorization for the proxy's admin API")
    color_label: str = "color"


class ErrorRateCheck(RunsFor):
    kind: ClassVar[str] = "error_rate"
    Options = ErrorRateOptions

    def __init__(self, opts: ErrorRateOptions | None = None, *, name: str = "error_rate", path: str = "/",
                 timeout_s: float | None = None) -> None:
        self.opts = opts or ErrorRateOptions()
        self.name, self.path = name, path
        self.timeout = timeout_s or stretched(self._needs())

    def _needs(self) -> float:
        return self.opts.duration if self.opts.source == "load" else self.opts.window


    async def measure(self, target: Target) -> Measurement:
        try:
            canary, baseline, data = await (self._by_load(target) if self.opts.source == "load"
                                            else self._by_metrics(target))
        except _Broken as exc:
            return Measurement(self.name, Verdict.ERROR, None, str(exc))
        return self._judge(canary, baseline, data)

    def _judge(self, canary: tuple[float, float], baseline: tuple[float, float] | None,
               data: dict[str, Any]) -> Measurement:
        o = self.opts
        results: list[Comparison] = []
        if baseline is not None:
            results.append(compare_error_rates(*canary, *baseline, alpha=o.alpha, tolerance=o.tolerance,
                                               min_samples=o.min_samples))
        if o.max is not None or baseline is None:
            limit = o.max if o.max is not None else o.tolerance
            results.append(error_rate_within(*canary, max_rate=limit, min_samples=o.min_samples))
        data["comparisons"] = [r.as_dict() for r in results]
        rate = canary[0] / canary[1] if canary[1] else None
        for verdict in (Verdict.INCONCLUSIVE, Verdict.FAIL):
            hits = [r for r in results if r.verdict is verdict]
            if hits:
                return Measurement(self.name, verdict, rate, "; ".join(r.detail for r in hits), data)
        return Measurement(self.name, Verdict.PASS, rate, "; ".join(r.detail for r in results), data)

    async def _by_load(self, target: Target) -> tuple[tuple[float, float], tuple[float, float] | None, dict[str, Any]]:
        o = self.opts
        urls = [join(target.url, self.path)] + ([join(target.baseline_url, self.path)] if target.baseline_url else [])
        runs = await asyncio.gather(*(run_load(u, concurrency=o.concurrency, duration=o.duration, rps=o.rps)
                                      for u in urls))
        for url, run in zip(urls, runs, strict=True):
            if run.unreachable:
                raise _Broken(f"cannot connect to {url}: {run.error_samples[0]}")
        data: dict[str, Any] = dict(zip(("canary", "baseline"), (r.as_dict() for r in runs), strict=False))
        counts = [(float(r.failed), float(r.requests)) for r in runs]
        return counts[0], (counts[1] if len(counts) > 1 else None), data

    async def _by_metrics(self, target: Target) -> tuple[tuple[float, float], tuple[float, float] | None,
                                                         dict[str, Any]]:
        o, spec = self.opts, self.opts.metrics
        # the orchestrator may point the check at its router's metrics through the target
        metrics_url = o.metrics_url or target.metrics_url
        headers = dict(o.metrics_headers)
        if target.metrics_authorization and not headers:
            headers["Authorization"] = target.metrics_authorization
        if metrics_url:  # one scrape, two colors
            sources = [[metrics_url]]
            matches = [{o.color_label: target.color.value}, {o.color_label: target.color.other.value}]
        else:
            sources = [[join(u, spec.path) for u in instance_urls(target.url, target.endpoints)]]
            if target.baseline_url:
                sources.append([join(target.baseline_url, spec.path)])
            matches = [{}, {}]
        try:
            before = await asyncio.gather(*(scrape_all(s, headers=headers) for s in sources))
            await asyncio.sleep(o.window)
            after = await asyncio.gather(*(scrape_all(s, headers=headers) for s in sources))
            pairs: list[tuple[Scrape, Scrape]] = list(zip(before, after, strict=True))
            if metrics_url:
                pairs = [pairs[0], pairs[0]]
            counts = [error_counts(b, a, spec, m) for (b, a), m in zip(pairs, matches, strict=False)]
        except MetricsError as exc:
            raise _Broken(str(exc)) from None
        has_baseline = bool(metrics_url or target.baseline_url)
        data = {"canary": {"errors": counts[0][0], "requests": counts[0][1]}}
        if has_baseline:
            data["baseline"] = {"errors": counts[1][0], "requests": counts[1][1]}
        return counts[0], (counts[1] if has_baseline else None), data


class _Broken(Exception):
    pass
