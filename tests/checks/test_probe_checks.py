"""dependencies, feature_flags, latency and error_rate against real app processes: each verdict."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from turnout.checks.dependencies import DependenciesCheck
from turnout.checks.error_rate import ErrorRateCheck
from turnout.checks.flags import FeatureFlagsCheck
from turnout.checks.latency import LatencyCheck
from turnout.errors import ConfigError
from turnout.measure.loadgen import run_load
from turnout.model import Verdict
from turnout.testing import check_from_config

from .checks_support import App, check_config, target_at, target_for


def build(cls: type, entry: str) -> object:
    cc, cfg = check_config(entry)
    return check_from_config(cls, cc, cfg)  # type: ignore[attr-defined]


# -- dependencies --

async def test_dependencies_pass_fail_error(app: App, refused_url: str) -> None:
    check = build(DependenciesCheck, 'kind = "dependencies"')
    assert isinstance(check, DependenciesCheck)
    m = await check.measure(target_for(app))
    assert m.verdict is Verdict.PASS and m.detail == "cache, database healthy on 1 instance(s)"

    app.fault(deps={"database": "unhealthy", "cache": "healthy"})
    m = await check.measure(target_for(app))
    assert m.verdict is Verdict.FAIL and m.value == 1
    assert m.detail.startswith("unhealthy dependencies: database: status 'unhealthy' at http://127.0.0.1:")

    only_cache = build(DependenciesCheck, 'kind = "dependencies"\nrequire = ["cache"]')
    assert isinstance(only_cache, DependenciesCheck)
    assert (await only_cache.measure(target_for(app))).verdict is Verdict.PASS
    needs_queue = DependenciesCheck(require=("queue",))
    m = await needs_queue.measure(target_for(app, endpoints=False))
    assert m.verdict is Verdict.FAIL and "queue: not reported" in m.detail

    m = await check.measure(target_at(refused_url))
    assert m.verdict is Verdict.ERROR and "unreachable" in m.detail
    m = await DependenciesCheck(path="/status/404").measure(target_for(app))
    assert m.verdict is Verdict.ERROR and "404" in m.detail


def test_dependencies_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"checks\[0\]\.requires: unknown key"):
        build(DependenciesCheck, 'kind = "dependencies"\nrequires = ["db"]')
    with pytest.raises(ConfigError, match=r"checks\[0\]\.require"):
        build(DependenciesCheck, 'kind = "dependencies"\nrequire = "db"')


# -- feature flags --

async def test_feature_flags_recorded_compared_and_expected(start_app: Callable[..., App], refused_url: str) -> None:
    green, blue = start_app("--color", "green"), start_app("--color", "blue")
    green.fault(flags={"new_checkout": True, "dark_mode": True})
    check = build(FeatureFlagsCheck, 'kind = "feature_flags"')
    assert isinstance(check, FeatureFlagsCheck)
    m = await check.measure(target_for(green, blue))
    assert m.verdict is Verdict.PASS and m.value == 2
    assert m.data["flags"] == {"new_checkout": True, "dark_mode": True}
    assert m.data["changed"] == ["dark_mode"] and "changed vs live: dark_mode" in m.detail

    strict = build(FeatureFlagsCheck, 'kind = "feature_flags"\nexpect = { dark_mode = false, beta = true }')
    assert isinstance(strict, FeatureFlagsCheck)
    m = await strict.measure(target_for(green))
    assert m.verdict is Verdict.FAIL and m.value == 2
    assert "beta='<missing>' (expected True)" in m.detail and "dark_mode=True (expected False)" in m.detail

    m = await FeatureFlagsCheck().measure(target_at(refused_url))
    assert m.verdict is Verdict.ERROR
    m = await FeatureFlagsCheck(path="/status/500").measure(target_for(green))
    assert m.verdict is Verdict.ERROR


# -- latency --

async def test_latency_from_metrics(app: App) -> None:
    check = build(LatencyCheck, 'kind = "latency"\nmax = "50ms"\nmin_samples = 20')
    assert isinstance(check, LatencyCheck)
    m = await check.measure(target_for(app))
    assert m.verdict is Verdict.INCONCLUSIVE and "too little data" in m.detail  # nothing served yet

    await run_load(f"{app.url}/", concurrency=4, duration=5, max_requests=100)
    m = await check.measure(target_for(app))
    assert m.verdict is Verdict.PASS and isinstance(m.value, float) and m.value <= 0.005, m.detail

    app.fault(latency_ms=120)
    await run_load(f"{app.url}/", concurrency=10, duration=5, max_requests=40)
    m = await check.measure(target_for(app))
    assert m.verdict is Verdict.FAIL and m.detail.startswith("too slow: p99 ")
    assert isinstance(m.value, float) and 0.1 <= m.value <= 0.25


async def test_latency_window_and_errors(app: App, refused_url: str) -> None:
    check = build(LatencyCheck, 'kind = "latency"\nmax = "50ms"\nwindow = "300ms"\nmin_samples = 5')
    assert isinstance(check, LatencyCheck)
    await run_load(f"{app.url}/", concurrency=2, duration=5, max_requests=50)  # before the window: ignored
    m = await check.measure(target_for(app))
    assert m.verdict is Verdict.INCONCLUSIVE and "0 requests the last 0.3s" in m.detail

    wrong = build(LatencyCheck, 'kind = "latency"\nmax = "50ms"\nmetrics = { duration = "nope_seconds" }')
    assert isinstance(wrong, LatencyCheck)
    m = await wrong.measure(target_for(app))
    assert m.verdict is Verdict.ERROR and "nope_seconds" in m.detail
    m = await check.measure(target_at(refused_url))
    assert m.verdict is Verdict.ERROR and "cannot scrape" in m.detail


async def test_latency_from_own_load(app: App, refused_url: str) -> None:
    entry = 'kind = "latency"\nsource = "load"\nmax = "{}"\nrps = 100\nduration = "400ms"\nmin_samples = 20'
    fast = build(LatencyCheck, entry.format("50ms"))
    assert isinstance(fast, LatencyCheck)
    assert (await fast.measure(target_for(app))).verdict is Verdict.PASS
    app.fault(latency_ms=60)
    m = await fast.measure(target_for(app))
    assert m.verdict is Verdict.FAIL
    tight = build(LatencyCheck, entry.format("50ms").replace("min_samples = 20", "min_samples = 500"))
    assert isinstance(tight, LatencyCheck)
    assert (await tight.measure(target_for(app))).verdict is Verdict.INCONCLUSIVE
    m = await fast.measure(target_at(refused_url))
    assert m.verdict is Verdict.ERROR


def test_latency_config() -> None:
    with pytest.raises(ConfigError, match=r"checks\[0\]\.max: field required"):
        build(LatencyCheck, 'kind = "latency"')
    with pytest.raises(ConfigError, match=r"checks\[0\]\.source"):
        build(LatencyCheck, 'kind = "latency"\nmax = "1s"\nsource = "guess"')
    with pytest.raises(ConfigError, match=r"checks\[0\]\.timeout: 2s is shorter"):
        build(LatencyCheck, 'kind = "latency"\nmax = "1s"\nwindow = "30s"\ntimeout = "2s"')


# -- error rate --

ERR = 'kind = "error_rate"\nrps = 200\nduration = "500ms"\nconcurrency = 4\nmin_samples = 50'


async def test_error_rate_against_baseline(start_app: Callable[..., App]) -> None:
    green, blue = start_app("--color", "green"), start_app("--color", "blue")
    check = build(ErrorRateCheck, ERR)
    assert isinstance(check, ErrorRateCheck)
    m = await check.measure(target_for(green, blue))
    assert m.verdict is Verdict.PASS and m.value == 0.0, m.detail
    assert m.data["canary"]["requests"] >= 90 and m.data["baseline"]["requests"] >= 90

    green.fault(error_rate=0.3)
    m = await check.measure(target_for(green, blue))
    assert m.verdict is Verdict.FAIL and m.detail.startswith("worse than baseline by"), m.detail

    blue.fault(error_rate=0.3)  # both as bad: the release is no worse than what runs now
    m = await check.measure(target_for(green, blue))
    assert m.verdict is Verdict.PASS, m.detail


async def test_error_rate_inconclusive_error_and_absolute(app: App, refused_url: str) -> None:
    few = build(ErrorRateCheck, ERR.replace("min_samples = 50", "min_samples = 5000"))
    assert isinstance(few, ErrorRateCheck)
    m = await few.measure(target_for(app))
    assert m.verdict is Verdict.INCONCLUSIVE and "too few requests" in m.detail

    absolute = build(ErrorRateCheck, ERR + "\nmax = 0.05")
    assert isinstance(absolute, ErrorRateCheck)
    assert (await absolute.measure(target_for(app))).verdict is Verdict.PASS
    app.fault(error_rate=0.5)
    m = await absolute.measure(target_for(app))
    assert m.verdict is Verdict.FAIL and "limit 5.00%" in m.detail

    m = await absolute.measure(target_at(refused_url))
    assert m.verdict is Verdict.ERROR and "cannot connect" in m.detail


async def test_error_rate_from_metrics(start_app: Callable[..., App]) -> None:
    green, blue = start_app("--color", "green"), start_app("--color", "blue")
    check = build(ErrorRateCheck, 'kind = "error_rate"\nsource = "metrics"\nwindow = "600ms"\nmin_samples = 50')
    assert isinstance(check, ErrorRateCheck)
    green.fault(error_rate=0.5)

    async def traffic() -> None:
        for app in (green, blue):
            await run_load(f"{app.url}/", concurrency=2, duration=0.4, rps=400)

    measure = asyncio.ensure_future(check.measure(target_for(green, blue)))
    await asyncio.sleep(0.05)
    await traffic()
    m = await measure
    assert m.verdict is Verdict.FAIL, m.detail
    assert m.data["canary"]["requests"] >= 100 and m.data["baseline"]["errors"] == 0
