"""Prometheus text scrapes and the few sums checks need: counter deltas, error ratios, quantiles.

A window is two scrapes: counters and histogram buckets are subtracted (a counter that went down
was reset by a restart, so its new value is the delta, as Prometheus' rate() assumes). Quantiles
from histogram buckets use Prometheus' histogram_quantile() linear interpolation. Scrapes of
several instances are merged by tagging each series with an `instance` label, so sums run over
every instance and nothing is double counted.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, ConfigDict, Field

from turnout.measure import web

Labels = dict[str, str]


class MetricsError(Exception):
    """The metrics could not be read or parsed: the check is broken, not the release."""


class RequestMetrics(BaseModel):
    """Which series count requests and time them. Defaults fit the example app's /metrics;
    for the builtin proxy's admin /metrics use requests="turnout_proxy_requests_total",
    status_label="code", duration="turnout_proxy_request_duration_seconds" and a `match` on
    {"listener": "production"} or "test" (the colors are told apart by the `color` label)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str = "/metrics"
    requests: str = "http_requests_total"
    status_label: str = "status"
    error_status: str = Field(default=r"5(\d\d|xx)",
                              description="regex over the status label: 503 (apps) or 5xx (the proxy)")
    duration: str = Field(default="http_request_duration_seconds", description="histogram base name (or summary name)")
    match: dict[str, str] = Field(default={}, description="only series whose labels equal these")


@dataclass(frozen=True)
class Scrape:
    at: float  # time.time() of the scrape
    samples: dict[str, list[tuple[Labels, float]]] = field(default_factory=dict)  # by sample name

    def series(self, name: str, match: Mapping[str, str] | None = None) -> list[tuple[Labels, float]]:
        rows = self.samples.get(name, [])
        if not match:
            return list(rows)
        return [(lab, v) for lab, v in rows if all(lab.get(k) == want for k, want in match.items())]

    def __contains__(self, name: object) -> bool:
        return name in self.samples

    def names(self) -> list[str]:
        return sorted(self.samples)


def parse(text: str, at: float | None = None) -> Scrape:
    samples: dict[str, list[tuple[Labels, float]]] = {}
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                samples.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    except (ValueError, TypeError, IndexError) as exc:  # the parser raises these on malformed text
        raise MetricsError(f"not Prometheus text format: {exc}") from None
    return Scrape(time.time() if at is None else at, samples)


async def scrape(url: str, *, timeout_s: float = 5.0, client: httpx.AsyncClient | None = None,
                 headers: Mapping[str, str] | None = None) -> Scrape:
    """`headers`: e.g. {"Authorization": "Bearer ..."} for the builtin proxy's admin /metrics."""
    try:
        if client is None:
            async with web.async_client(timeout=timeout_s) as own:
                resp = await own.get(url, headers=headers)
        else:
            resp = await client.get(url, timeout=timeout_s, headers=headers)
    except httpx.HTTPError as exc:
        raise MetricsError(f"cannot scrape {url}: {exc or type(exc).__name__}") from None
    if resp.status_code != 200:
        raise MetricsError(f"cannot scrape {url}: HTTP {resp.status_code}")
    try:
        return parse(resp.text)
    except MetricsError as exc:
        raise MetricsError(f"{url}: {exc}") from None


async def scrape_all(urls: Sequence[str], *, timeout_s: float = 5.0,
                     headers: Mapping[str, str] | None = None) -> Scrape:
    """Scrape every instance at once and merge them, each series tagged with `instance=<url>`."""
    async with web.async_client(timeout=timeout_s) as client:
        scrapes = await asyncio.gather(*(scrape(u, timeout_s=timeout_s, client=client, headers=headers)
                                         for u in urls))
    if len(scrapes) == 1:
        return scrapes[0]
    merged: dict[str, list[tuple[Labels, float]]] = {}
    for url, one in zip(urls, scrapes, strict=True):
        for name, rows in one.samples.items():
            merged.setdefault(name, []).extend(({**lab, "instance": url}, v) for lab, v in rows)
    return Scrape(max(s.at for s in scrapes), merged)


def _key(labels: Labels, drop: str = "") -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != drop))


def deltas(before: Scrape | None, after: Scrape, name: str,
           match: Mapping[str, str] | None = None) -> list[tuple[Labels, float]]:
    """Per-series increase of a counter between two scrapes (or its value when `before` is None)."""
    old = {_key(lab): v for lab, v in before.series(name, match)} if before is not None else {}
    out = []
    for lab, v in after.series(name, match):
        prev = old.get(_key(lab), 0.0)
        out.append((lab, v - prev if v >= prev else v))  # went down: reset by a restart
    return out


def counter_sum(before: Scrape | None, after: Scrape, name: str, match: Mapping[str, str] | None = None,
                where: Callable[[Labels], bool] | None = None) -> float:
    return sum(v for lab, v in deltas(before, after, name, match) if where is None or where(lab))


def error_counts(before: Scrape | None, after: Scrape, spec: RequestMetrics,
                 match: Mapping[str, str] | None = None) -> tuple[float, float]:
    """(errors, requests) in the window; `match` adds to spec.match (e.g. a color)."""
    if spec.requests not in after:
        raise MetricsError(f"no series named {spec.requests} (have: {', '.join(after.names()[:12]) or 'none'})")
    labels = {**spec.match, **(match or {})}
    is_error = re.compile(spec.error_status).fullmatch
    rows = deltas(before, after, spec.requests, labels)
    total = sum(v for _, v in rows)
    errors = sum(v for lab, v in rows if is_error(lab.get(spec.status_label, "")))
    return errors, total


def by_label(before: Scrape | None, after: Scrape, name: str, label: str,
             match: Mapping[str, str] | None = None) -> dict[str, float]:
    """Counter increase grouped by one label, e.g. requests per color."""
    out: dict[str, float] = {}
    for lab, v in deltas(before, after, name, match):
        out[lab.get(label, "")] = out.get(lab.get(label, ""), 0.0) + v
    return out


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Prometheus' histogram_quantile over (upper bound, cumulative count) pairs; None if empty."""
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]) or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for i, (le, raw) in enumerate(ordered):
        count = max(raw, prev_count)  # scrapes between increments can be non-monotonic
        if count >= rank:
            if math.isinf(le):  # beyond the last finite bucket: its bound is all we know
                return ordered[i - 1][0] if i > 0 else None
            if i == 0 and le <= 0:
                return le
            return prev_le + (le - prev_le) * ((rank - prev_count) / (count - prev_count) if count > prev_count else 1)
        prev_le, prev_count = le, count
    return None


def window_buckets(before: Scrape | None, after: Scrape, name: str,
                   match: Mapping[str, str] | None = None) -> list[tuple[float, float]]:
    """A histogram's buckets summed over all its series (instances, paths) for the window."""
    sums: dict[float, float] = {}
    for lab, v in deltas(before, after, f"{name}_bucket", match):
        le = float(lab.get("le", "+Inf"))
        sums[le] = sums.get(le, 0.0) + v
    return sorted(sums.items())


def latency_quantile(before: Scrape | None, after: Scrape, name: str, q: float,
                     match: Mapping[str, str] | None = None) -> tuple[float | None, float]:
    """(quantile in seconds, observations) from a histogram, else from a summary's own quantiles."""
    if f"{name}_bucket" in after:
        buckets = window_buckets(before, after, name, match)
        return histogram_quantile(q, buckets), (buckets[-1][1] if buckets else 0.0)
    if name in after:  # a summary: its quantiles cannot be merged, so take the worst instance
        rows = [v for lab, v in after.series(name, match)
                if lab.get("quantile") is not None and math.isclose(float(lab["quantile"]), q) and not math.isnan(v)]
        count = counter_sum(before, after, f"{name}_count", match)
        return (max(rows) if rows else None), count
    raise MetricsError(f"no histogram or summary named {name}")
