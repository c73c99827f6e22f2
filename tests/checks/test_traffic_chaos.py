"""Traffic profiles (smoke-traffic/load/soak) and the chaos check against real processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from turnout.checks.base import Target
from turnout.checks.chaos import ChaosCheck, ChaosOptions, pids_listening
from turnout.checks.traffic import LoadCheck, SmokeTrafficCheck, SoakCheck
from turnout.errors import ConfigError
from turnout.model import Verdict
from turnout.testing import check_from_config

from .checks_support import FAKEAPP, App, check_config, target_at, target_for


def test_profiles_defaults_and_overrides() -> None:
    cc, cfg = check_config('kind = "smoke-traffic"')
    smoke = check_from_config(SmokeTrafficCheck, cc, cfg)
    assert (smoke.opts.rps, smoke.opts.duration, smoke.opts.max_error_rate) == (10, 10.0, 0.0)
    cc, cfg = check_config('kind = "soak"\nduration = "5m"\nrps = 5')
    soak = check_from_config(SoakCheck, cc, cfg)
    assert (soak.opts.rps, soak.opts.duration, soak.opts.segments) == (5, 300.0, 6)
    assert soak.timeout >= 300  # the runner must give it the time it needs
    cc, cfg = check_config('kind = "load"\nrps = -1\nburst = 3')
    with pytest.raises(ConfigError, match=r"checks\[0\]\.rps: .*greater than 0.*checks\[0\]\.burst: unknown key"):
        check_from_config(LoadCheck, cc, cfg)
    cc, cfg = check_config('kind = "soak"\nduration = "10m"\ntimeout = "1m"')
    with pytest.raises(ConfigError, match=r"checks\[0\]\.timeout"):
        check_from_config(SoakCheck, cc, cfg)


async def test_traffic_pass_fail_inconclusive_error(app: App, refused_url: str) -> None:
    cc, cfg = check_config('kind = "load"\nrps = 200\nduration = "500ms"\nconcurrency = 4\nmax_latency = "50ms"')
    check = check_from_config(LoadCheck, cc, cfg)
    m = await check.measure(target_for(app))
    assert m.verdict is Verdict.PASS and m.value == 0.0 and m.data["load"]["requests"] >= 95, m.detail

    app.fault(error_rate=0.2)
    m = await check.measure(target_for(app))
    assert m.verdict is Verdict.FAIL and "error rate" in m.detail and "non_2xx" in m.detail

    app.fault(error_rate=0, latency_ms=80)
    m = await check.measure(target_for(app))
    assert m.verdict is Verdict.FAIL and m.detail.startswith("p99 "), m.detail

    cc, cfg = check_config('kind = "load"\nrps = 200\nduration = "300ms"\nconcurrency = 1\nmin_requests = 500')
    m = await check_from_config(LoadCheck, cc, cfg).measure(target_for(app))  # 80 ms each: far too few complete
    assert m.verdict is Verdict.INCONCLUSIVE and "only" in m.detail

    m = await check.measure(target_at(refused_url))
    assert m.verdict is Verdict.ERROR and "cannot connect" in m.detail


async def test_soak_catches_latency_growth(app: App) -> None:
    cc, cfg = check_config('kind = "soak"\nrps = 100\nduration = "900ms"\nsegments = 3\nconcurrency = 4\n'
                           'max_latency_growth = 3')
    soak = check_from_config(SoakCheck, cc, cfg)
    # the app slows down while the soak runs: 0 ms, then 30 ms after ~0.5 s
    asyncio.get_running_loop().call_later(0.5, lambda: app.fault(latency_ms=30))
    m = await soak.measure(target_for(app))
    assert m.verdict is Verdict.FAIL and "grew" in m.detail, m.detail
    assert m.data["latency_growth"] > 3


# -- chaos --

class Supervisor:
    """Restarts a killed fake app on the same port, as the process runtime would."""

    def __init__(self, app: App, delay: float = 0.2) -> None:
        self.app, self.delay = app, delay
        self.done = threading.Event()
        self.restarts = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(0.02):
            if self.app.proc.poll() is not None:
                self.done.wait(self.delay)
                self.app.proc = subprocess.Popen(
                    [sys.executable, str(FAKEAPP), "--port", str(self.app.port), "--color", "green"],
                    stdout=subprocess.DEVNULL, text=True)
                self.restarts += 1

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)
        self.app.stop()


@pytest.fixture
def supervised(start_app: Callable[..., App]) -> Iterator[Supervisor]:
    sup = Supervisor(start_app("--color", "green"))
    yield sup
    sup.stop()


CHAOS = ChaosOptions(budget=3.0, settle=0.3, warmup=0.3, rps=50)


async def test_chaos_recovers_within_budget(supervised: Supervisor) -> None:
    app = supervised.app
    pid = app.proc.pid
    assert pids_listening(app.port) == [pid]
    m = await ChaosCheck(CHAOS).measure(target_for(app))  # victim found through /proc
    assert m.verdict is Verdict.PASS, m.detail
    assert f"killed pid {pid} (127.0.0.1:{app.port}) with SIGKILL" in m.detail
    assert supervised.restarts == 1 and m.data["failures_after_kill"] >= 1
    assert isinstance(m.value, float) and 0.2 <= m.value < 3.0
    assert m.data["restart_s"] is not None and m.data["restart_s"] <= m.value


async def test_chaos_fails_without_restart(start_app: Callable[..., App]) -> None:
    app = start_app("--color", "green")
    opts = CHAOS.model_copy(update={"budget": 0.6})
    m = await ChaosCheck(opts).measure(target_for(app, pids=(app.proc.pid,)))  # victim from target.pids
    assert m.verdict is Verdict.FAIL
    assert f"127.0.0.1:{app.port} did not answer /health/ready within 0.6s" in m.detail
    assert "requests still failed" in m.detail
    assert app.proc.wait(2) == -9


async def test_chaos_kill_function_and_errors(start_app: Callable[..., App], refused_url: str) -> None:
    app = start_app("--color", "green")
    killed: list[str] = []

    async def kill(target: Target) -> str:  # e.g. a Kubernetes runtime deleting a pod
        killed.append(target.url)
        return "pod green-0"

    opts = CHAOS.model_copy(update={"require_restart": False})
    m = await ChaosCheck(opts, kill=kill).measure(target_for(app))
    assert m.verdict is Verdict.PASS and killed == [app.url] and "killed pod green-0" in m.detail

    m = await ChaosCheck(opts).measure(target_at(app.url))  # nothing says what to kill
    assert m.verdict is Verdict.ERROR and "no instance to kill" in m.detail
    m = await ChaosCheck(opts).measure(target_at(refused_url))
    assert m.verdict is Verdict.ERROR and "not healthy to start with" in m.detail
