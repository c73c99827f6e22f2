"""The load generator, the error_rate check (proxy metrics) and the watch behind the builtin proxy."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from turnout.checks.base import Target
from turnout.checks.error_rate import ErrorRateCheck
from turnout.config import StabilizeConfig
from turnout.engine.watch import ErrorRateTrigger, ProbeSampler, measure_baseline, triggers_for, watch
from turnout.measure.loadgen import run_load
from turnout.model import Color, Release, Verdict
from turnout.testing import check_from_config

from .checks_support import App, check_config, refused_port

TOKEN = "test-token"


@dataclass
class Proxy:
    proc: subprocess.Popen[bytes]
    production: str
    test: str
    admin: str

    def put(self, path: str, body: object) -> None:
        r = httpx.put(f"{self.admin}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
        assert r.status_code == 200, r.text

    def route(self, blue: int) -> None:
        self.put("/route", {"weights": {"blue": blue, "green": 100 - blue}})


@pytest.fixture
def proxy(tmp_path: Path, start_app: Callable[..., App]) -> Iterator[tuple[Proxy, App, App]]:
    blue, green = start_app("--color", "blue"), start_app("--color", "green")
    (tmp_path / "token").write_text(TOKEN)
    ports = [refused_port() for _ in range(3)]
    proc = subprocess.Popen([sys.executable, "-m", "turnout.proxy", "--production", f"127.0.0.1:{ports[0]}",
                             "--test", f"127.0.0.1:{ports[1]}", "--admin", f"127.0.0.1:{ports[2]}",
                             "--token-file", str(tmp_path / "token"), "--state-file", str(tmp_path / "state.json"),
                             "--drain", "1"], stderr=subprocess.DEVNULL)
    p = Proxy(proc, *(f"http://127.0.0.1:{port}" for port in ports))
    deadline = time.monotonic() + 10
    while True:
        try:
            if httpx.get(f"{p.admin}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.05)
    p.put("/backends", {"blue": [f"127.0.0.1:{blue.port}"], "green": [f"127.0.0.1:{green.port}"]})
    p.route(100)
    yield p, blue, green
    proc.kill()
    proc.wait(5)


async def test_colors_counted_across_a_switch(proxy: tuple[Proxy, App, App]) -> None:
    p, _, _ = proxy
    loop = asyncio.get_running_loop()
    switched: list[float] = []

    def switch() -> None:
        switched.append(time.time())
        p.route(0)

    loop.call_later(0.3, switch)
    r = await run_load(f"{p.production}/", concurrency=4, duration=0.8, rps=400)
    assert r.failed == 0 and set(r.colors) == {"blue", "green"}
    assert r.colors["blue"] + r.colors["green"] == r.requests
    # the switch applies to the very next request, also on open keep-alive connections
    assert r.first_seen["green"] >= switched[0] - 0.01 and r.last_seen["blue"] <= r.first_seen["green"] + 0.05


async def test_error_rate_from_proxy_metrics(proxy: tuple[Proxy, App, App]) -> None:
    p, _, green = proxy
    green.fault(error_rate=0.4)
    cc, cfg = check_config('kind = "error_rate"\nsource = "metrics"\nwindow = "700ms"\nmin_samples = 50\n'
                           'metrics = { requests = "turnout_proxy_requests_total", status_label = "code" }')
    check = check_from_config(ErrorRateCheck, cc, cfg)
    target = Target(url=p.test, color=Color.GREEN, release=Release("v2"), baseline_url=p.production,
                    metrics_url=f"{p.admin}/metrics", metrics_authorization=f"Bearer {TOKEN}")
    measuring = asyncio.ensure_future(check.measure(target))
    await asyncio.sleep(0.1)
    await asyncio.gather(run_load(f"{p.test}/", concurrency=2, duration=0.4, rps=300),
                         run_load(f"{p.production}/", concurrency=2, duration=0.4, rps=300))
    m = await measuring
    assert m.verdict is Verdict.FAIL and m.detail.startswith("worse than baseline"), m.detail
    assert m.data["baseline"]["errors"] == 0 and m.data["canary"]["requests"] >= 100

    bad_token = Target(url=p.test, color=Color.GREEN, release=Release("v2"),
                       metrics_url=f"{p.admin}/metrics", metrics_authorization="Bearer nope")
    m = await check.measure(bad_token)
    assert m.verdict is Verdict.ERROR and "HTTP 401" in m.detail


async def test_watch_through_the_proxy_fires_after_a_bad_switch(proxy: tuple[Proxy, App, App]) -> None:
    p, _, green = proxy
    cfg = StabilizeConfig.model_validate({"interval": "100ms", "baseline": "500ms"})
    target = Target(url=p.production, color=Color.GREEN, release=Release("v2"), baseline_url=p.production)
    base = await measure_baseline(target, cfg)  # blue, still live
    green.fault(error_rate=1.0)
    p.route(0)
    switched = time.time()
    r = await watch(triggers_for(cfg), ProbeSampler(target.url, cfg.probe), interval=cfg.interval, window=5,
                    baseline=base)
    assert r.trigger == ErrorRateTrigger.name and r.ticks == 1
    assert r.detected_at is not None and r.detected_at - switched < 1.0
