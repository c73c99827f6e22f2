"""Prometheus parsing and window arithmetic; the statistics. Pure table tests, then real scrapes."""

from __future__ import annotations

import math
import random

import pytest

from turnout.measure import prometheus as m
from turnout.measure.loadgen import run_load
from turnout.measure.stats import compare_error_rates, compare_latency, error_rate_within, quantile
from turnout.model import Verdict

from .checks_support import App

INF = math.inf

TEXT_1 = """
# TYPE http_requests_total counter
http_requests_total{path="/",status="200"} 90
http_requests_total{path="/",status="503"} 10
http_requests_total{path="/a",status="200"} 5
# TYPE lat histogram
lat_bucket{le="0.1"} 50
lat_bucket{le="0.2"} 90
lat_bucket{le="+Inf"} 100
lat_count 100
lat_sum 12
# TYPE q summary
q{quantile="0.5"} 0.01
q{quantile="0.99"} 0.3
q_count 40
q_sum 1
"""

TEXT_2 = TEXT_1.replace("} 90\n", "} 190\n", 1).replace('status="503"} 10', 'status="503"} 30').replace(
    'status="200"} 5', 'status="200"} 2').replace('le="0.1"} 50', 'le="0.1"} 60').replace(
    'le="0.2"} 90', 'le="0.2"} 100').replace('le="+Inf"} 100', 'le="+Inf"} 200')


@pytest.mark.parametrize(("q", "buckets", "want"), [
    (0.5, [(0.1, 50), (0.2, 90), (INF, 100)], 0.1),
    (0.7, [(0.1, 50), (0.2, 90), (INF, 100)], 0.15),
    (0.95, [(0.1, 50), (0.2, 90), (INF, 100)], 0.2),  # in +Inf: the last finite bound
    (0.25, [(0.1, 50), (0.2, 90), (INF, 100)], 0.05),  # first bucket interpolates from 0
    (0.99, [(0.1, 0), (INF, 0)], None),  # no observations
    (0.5, [(0.1, 10)], None),  # no +Inf bucket: not a histogram
    (0.5, [], None),
    (0.5, [(INF, 10)], None),  # only +Inf: nothing known
])
def test_histogram_quantile(q: float, buckets: list[tuple[float, float]], want: float | None) -> None:
    got = m.histogram_quantile(q, buckets)
    assert got == pytest.approx(want) if want is not None else got is None


def test_window_deltas_errors_and_resets() -> None:
    before, after = m.parse(TEXT_1, at=1.0), m.parse(TEXT_2, at=2.0)
    spec = m.RequestMetrics()
    # 100 more 200s on "/", 20 more 503s, and /a went 5 -> 2: a restart, so its delta is 2
    assert m.error_counts(before, after, spec) == (20.0, 122.0)
    assert m.error_counts(None, after, spec) == (30.0, 222.0)  # cumulative without a window
    assert m.error_counts(before, after, spec, {"path": "/a"}) == (0.0, 2.0)
    assert m.by_label(before, after, "http_requests_total", "status") == {"200": 102.0, "503": 20.0}
    assert m.window_buckets(before, after, "lat") == [(0.1, 10.0), (0.2, 10.0), (INF, 100.0)]
    value, count = m.latency_quantile(before, after, "lat", 0.99)
    assert (value, count) == (0.2, 100.0)
    assert m.latency_quantile(before, after, "q", 0.99) == (0.3, 0.0)  # summary quantile as exposed
    with pytest.raises(m.MetricsError, match="no histogram or summary named nope"):
        m.latency_quantile(before, after, "nope", 0.99)
    with pytest.raises(m.MetricsError, match="no series named x_total"):
        m.error_counts(before, after, m.RequestMetrics(requests="x_total"))


def test_parse_errors() -> None:
    with pytest.raises(m.MetricsError, match="not Prometheus text"):
        m.parse("<html>nope{</html>")


async def test_scrape_real_app(app: App, refused_url: str) -> None:
    await run_load(f"{app.url}/", concurrency=2, duration=5, max_requests=40)
    app.fault(error_rate=1.0)
    await run_load(f"{app.url}/", concurrency=2, duration=5, max_requests=10)
    s = await m.scrape(f"{app.url}/metrics")
    assert m.error_counts(None, s, m.RequestMetrics()) == (10.0, 50.0)
    p99, n = m.latency_quantile(None, s, "http_request_duration_seconds", 0.99)
    assert n == 50 and p99 is not None and 0 < p99 <= 0.01
    both = await m.scrape_all([f"{app.url}/metrics", f"{app.url}/metrics"])
    assert m.error_counts(None, both, m.RequestMetrics()) == (20.0, 100.0)  # two "instances"
    with pytest.raises(m.MetricsError, match="cannot scrape"):
        await m.scrape(f"{refused_url}/metrics")
    with pytest.raises(m.MetricsError, match="HTTP 404"):
        await m.scrape(f"{app.url}/status/404")


# -- statistics --

def _norm(mu: float, sd: float, n: int, seed: int) -> list[float]:
    r = random.Random(seed)
    return [max(0.0, r.gauss(mu, sd)) for _ in range(n)]


@pytest.mark.parametrize(("canary", "baseline", "kw", "want"), [
    (_norm(0.080, 0.005, 300, 1), _norm(0.050, 0.005, 300, 2), {}, Verdict.FAIL),  # 30 ms slower
    (_norm(0.050, 0.005, 300, 1), _norm(0.050, 0.005, 300, 2), {}, Verdict.PASS),  # same
    (_norm(0.040, 0.005, 300, 1), _norm(0.050, 0.005, 300, 2), {}, Verdict.PASS),  # faster is fine
    # significant but tiny (0.3 ms on 1 ms): within min_shift, not worth blocking a release
    (_norm(0.0013, 0.0001, 500, 1), _norm(0.0010, 0.0001, 500, 2), {}, Verdict.PASS),
    (_norm(0.0013, 0.0001, 500, 1), _norm(0.0010, 0.0001, 500, 2), {"min_shift": 0.0001}, Verdict.FAIL),
    (_norm(0.080, 0.005, 20, 1), _norm(0.050, 0.005, 300, 2), {}, Verdict.INCONCLUSIVE),  # too few
    ([0.01] * 100, [0.01] * 100, {}, Verdict.PASS),  # identical
    ([math.nan] * 100, _norm(0.05, 0.005, 300, 2), {}, Verdict.INCONCLUSIVE),  # NaNs removed
])
def test_compare_latency(canary: list[float], baseline: list[float], kw: dict[str, float], want: Verdict) -> None:
    got = compare_latency(canary, baseline, **kw)
    assert got.verdict is want, got.detail


@pytest.mark.parametrize(("counts", "kw", "want"), [
    ((20, 20, 0, 200), {"min_samples": 20}, Verdict.FAIL),  # all failing vs clean
    ((30, 1000, 0, 1000), {}, Verdict.FAIL),  # 3% vs a zero baseline (kayenta#377)
    ((2, 100, 0, 100), {}, Verdict.PASS),  # 2 errors could be chance
    ((0, 100, 0, 100), {}, Verdict.PASS),
    ((15, 1000, 10, 1000), {}, Verdict.PASS),  # worse, within the 1% tolerance
    ((200, 1000, 100, 1000), {}, Verdict.FAIL),
    ((5, 1000, 50, 1000), {}, Verdict.PASS),  # better
    ((10, 50, 0, 1000), {}, Verdict.INCONCLUSIVE),  # canary too small
    ((10, 500, 0, 50), {}, Verdict.INCONCLUSIVE),  # baseline too small
])
def test_compare_error_rates(counts: tuple[int, int, int, int], kw: dict[str, int], want: Verdict) -> None:
    got = compare_error_rates(*counts, **kw)
    assert got.verdict is want, got.detail


def test_error_rate_within_and_quantile() -> None:
    assert error_rate_within(1, 100, max_rate=0.01).verdict is Verdict.PASS
    assert error_rate_within(2, 100, max_rate=0.01).verdict is Verdict.FAIL
    assert error_rate_within(0, 0, max_rate=0.01).verdict is Verdict.INCONCLUSIVE
    assert quantile([1, 2, 3, 4], 0.5) == 2 and quantile([], 0.5) is None
