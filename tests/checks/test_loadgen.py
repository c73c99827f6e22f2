"""The load generator against a real app process on a loopback port."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from turnout.errors import UsageError
from turnout.measure.loadgen import LoadResult, main_load, run_load

from .checks_support import App


async def test_counts_and_colors(app: App) -> None:
    r = await run_load(f"{app.url}/", concurrency=4, duration=5.0, max_requests=500)
    assert (r.requests, r.ok, r.failed) == (500, 500, 0)
    assert r.colors == {"blue": 500}
    assert r.first_seen["blue"] <= r.last_seen["blue"]
    assert r.statuses == {200: 500}
    assert r.latency_count == 500 and len(r.latencies) == 500
    p50, p99, mx = r.p50(), r.p99(), r.max()
    assert p50 is not None and p99 is not None and mx is not None
    assert 0 < p50 <= p99 <= mx < 1.0
    json.dumps(r.as_dict())  # JSON-able as is


async def test_rps_limit_holds(app: App) -> None:
    r = await run_load(f"{app.url}/", concurrency=8, duration=1.0, rps=100)
    assert 95 <= r.requests <= 101, r.requests
    assert r.failed == 0


async def test_bounded_by_duration(app: App) -> None:
    t0 = time.monotonic()
    r = await run_load(f"{app.url}/slow?ms=100", concurrency=2, duration=0.5, timeout=2.0)
    took = time.monotonic() - t0
    # stops at the deadline; the requests in flight then finish (at most one slow response more)
    assert 0.5 <= took < 1.0, took
    assert 8 <= r.requests <= 12 and r.failed == 0


async def test_stop_event_ends_the_run(app: App) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.2, stop.set)
    t0 = time.monotonic()
    r = await run_load(f"{app.url}/", concurrency=2, duration=30.0, rps=50, stop=stop)
    assert time.monotonic() - t0 < 1.0
    assert 5 <= r.requests <= 12


async def test_truncated_body_is_a_failure(app: App) -> None:
    r = await run_load(f"{app.url}/truncated", concurrency=2, duration=5.0, max_requests=20)
    assert (r.requests, r.failed, r.errors) == (20, 20, {"truncated": 20})
    r = await run_load(f"{app.url}/chunked-truncated", concurrency=1, duration=5.0, max_requests=5)
    assert r.errors == {"truncated": 5}


async def test_close_without_response_is_a_lost_request(app: App) -> None:
    r = await run_load(f"{app.url}/close-silently", concurrency=2, duration=5.0, max_requests=10)
    assert r.errors == {"closed": 10} and r.ok == 0
    assert r.first_failure_at is not None and "before any response byte" in r.error_samples[0]


async def test_idle_close_reconnects_without_failures(app: App) -> None:
    # the server closes each keep-alive connection 20 ms after answering; requests come every 50 ms
    r = await run_load(f"{app.url}/idle-close", concurrency=1, duration=0.6, rps=20)
    assert r.requests >= 10 and r.failed == 0
    r = await run_load(f"{app.url}/conn-close", concurrency=2, duration=5.0, max_requests=50)
    assert (r.ok, r.failed) == (50, 0)


async def test_connection_refused_is_counted(refused_url: str) -> None:
    t0 = time.monotonic()
    r = await run_load(f"{refused_url}/", concurrency=2, duration=0.3, rps=100)
    assert time.monotonic() - t0 < 1.5
    assert r.requests == r.failed > 20 and set(r.errors) == {"connect"}
    assert "refused" in r.error_samples[0].lower()


async def test_timeout_and_non_2xx(app: App) -> None:
    r = await run_load(f"{app.url}/slow?ms=500", concurrency=2, duration=5.0, max_requests=2, timeout=0.1)
    assert r.errors == {"timeout": 2}
    r = await run_load(f"{app.url}/status/503", concurrency=1, duration=5.0, max_requests=3)
    assert r.errors == {"non_2xx": 3} and r.color_failures == {"blue": 3} and r.statuses == {503: 3}


async def test_post_body(app: App) -> None:
    r = await run_load(f"{app.url}/admin/fault", concurrency=1, duration=5.0, max_requests=3, method="POST",
                       body=b"{}")
    assert r.ok == 3


def test_percentiles_nearest_rank() -> None:
    r = LoadResult()
    for v in range(1, 101):
        r._record_response(200, None, v / 1000)
    assert (r.p50(), r.p90(), r.p99(), r.max()) == (0.05, 0.09, 0.099, 0.1)
    assert LoadResult().p99() is None


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="http"):
        asyncio.run(run_load("ftp://x/", concurrency=1, duration=1))
    with pytest.raises(ValueError, match="concurrency"):
        asyncio.run(run_load("http://127.0.0.1:1/", concurrency=0, duration=1))


def test_main_load_json(app: App, capsys: pytest.CaptureFixture[str]) -> None:
    assert main_load(f"{app.url}/", 50, 0.3, 2, True) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] == 0 and 10 <= out["requests"] <= 16 and out["colors"] == {"blue": out["requests"]}
    assert main_load(f"{app.url}/status/500", 50, 0.1, 1, False) == 1
    assert "failed" in capsys.readouterr().out
    with pytest.raises(UsageError, match="expected an http"):
        main_load("localhost:8080", None, 1, 1, False)
