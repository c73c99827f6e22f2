"""Time from the first failing user request to traffic back on the old color, measured end to end.

Blue and green run src/turnout/examples/app.py behind the builtin proxy (routers.builtin). User traffic runs
through the production listener the whole time (checks.loadgen, every response timed and tagged
with its color). The baseline is probed on blue, traffic is switched to a bad green, and
analysis.watch() probes it every `--interval`; when a trigger fires the router is pointed back at
blue, exactly as an orchestrator rollback would. Scenarios:

  error-spike  green answers 500 to every request while its health check stays OK
  late-errors  the same, starting at a random moment 0.5-1.0 s after the switch (fail-after): the
               watch sees it up to one interval late, the case the 1 s goal is about
  outage       green's process is killed right after the switch (the proxy answers 502)
  latency      green answers 200 ms slower

Goal (DESIGN): with a 250 ms interval, <= 1 s from the first failing request to traffic back on
blue. The seed's table puts detection of an error spike by monitoring at 1-5 minutes and of a
performance degradation at 5-15 minutes; those are the anchors the ratios are printed against.

    python benchmarks/rollback.py [--trials 5] [--interval 0.25] [--scenario all] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from turnout.checks.base import Target
from turnout.config import AppConfig, Config, RouterConfig, StabilizeConfig, StateConfig
from turnout.engine.watch import ProbeSampler, measure_baseline, triggers_for, watch
from turnout.measure.loadgen import run_load
from turnout.model import Color, Endpoint, Release, Weights
from turnout.routers.builtin import BuiltinRouter
from turnout.testing import router_from_config

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "src" / "turnout" / "examples" / "app.py"
ADMIN_TOKEN = "bench-admin-token"  # the example app's fault switch is off without it
# The seed's detection times, best case of each row: monitoring 1-5 min, health checks "seconds", 5-15 min.
ANCHORS = {"error-spike": 60.0, "late-errors": 60.0, "outage": 1.0, "latency": 300.0}


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


async def start_app(port: int, color: str, version: str, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, str(APP), "--port", str(port), "--version", version, "--color", color,
                             "--grace", "1", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "EXAMPLE_ADMIN_TOKEN": ADMIN_TOKEN})
    async with httpx.AsyncClient(timeout=0.5) as client:
        for _ in range(200):
            try:
                if (await client.get(f"http://127.0.0.1:{port}/health/ready")).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{APP} did not get ready on port {port}")


async def post(url: str, body: dict[str, Any], after: float = 0.0) -> None:
    await asyncio.sleep(after)
    async with httpx.AsyncClient(timeout=2) as client:
        await client.post(url, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


async def trial(scenario: str, interval: float, workdir: Path) -> dict[str, Any]:
    p_blue, p_green, prod, test, admin = free_ports(5)
    blue = await start_app(p_blue, "blue", "1.0.0")
    green = await start_app(p_green, "green", "2.0.0")
    section = RouterConfig(production=f"127.0.0.1:{prod}", test=f"127.0.0.1:{test}", admin=f"127.0.0.1:{admin}",
                           drain=1.0)
    router = router_from_config(BuiltinRouter, Config(app=AppConfig(name="bench"), router=section,
                                                      state=StateConfig(path=str(workdir)), base_dir=workdir))
    events: list[tuple[float, int, str | None, str | None]] = []
    stop = asyncio.Event()
    late: asyncio.Future[None] | None = None
    try:
        await router.prepare({Color.BLUE: [Endpoint("127.0.0.1", p_blue)],
                              Color.GREEN: [Endpoint("127.0.0.1", p_green)]})
        await router.route(Weights.all_to(Color.BLUE))
        cfg = StabilizeConfig.model_validate({"interval": interval, "baseline": "2s"})
        target = Target(url=router.production_url, color=Color.GREEN, release=Release("2.0.0"),
                        baseline_url=router.production_url)
        users = asyncio.ensure_future(run_load(f"{router.production_url}/", concurrency=8, duration=60, rps=400,
                                               stop=stop, timeout=2.0, observer=lambda *e: events.append(e)))
        baseline = await measure_baseline(target, cfg)
        if scenario == "error-spike":
            await post(f"http://127.0.0.1:{p_green}/admin/fault", {"error_rate": 1.0})
        elif scenario == "latency":
            await post(f"http://127.0.0.1:{p_green}/admin/fault", {"latency_ms": 200})
        switched = time.time()
        await router.route(Weights.all_to(Color.GREEN))
        if scenario == "outage":
            green.send_signal(signal.SIGKILL)
        elif scenario == "late-errors":
            late = asyncio.ensure_future(post(f"http://127.0.0.1:{p_green}/admin/fault", {"error_rate": 1.0},
                                              after=random.uniform(0.5, 1.0)))
        result = await watch(triggers_for(cfg), ProbeSampler(target.url, cfg.probe), interval=cfg.interval,
                             window=30, baseline=baseline)
        detected = time.time()
        await router.route(Weights.all_to(Color.BLUE))  # the rollback
        while (await router.observe()).weights != Weights.all_to(Color.BLUE):
            await asyncio.sleep(0.01)
        routed = time.time()
        if late is not None:
            await late
        await asyncio.sleep(0.5)
        stop.set()
        await users
    finally:
        stop.set()
        await router.release()
        for proc in (blue, green):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    bad = [e for e in events if e[0] >= switched and (e[3] is not None or not 200 <= e[1] < 300)]
    green_seen = [e[0] for e in events if e[2] == "green"]
    first_bad = bad[0][0] if bad else (min(green_seen) if scenario == "latency" and green_seen else switched)
    back = min((e[0] for e in events if e[0] >= detected and e[2] == "blue" and 200 <= e[1] < 300), default=None)
    return {"scenario": scenario, "trigger": result.trigger, "ticks": result.ticks,
            "bad_requests": len(bad), "green_responses": len(green_seen),
            "detect_s": detected - first_bad, "route_back_s": routed - detected,
            "total_s": (back - first_bad) if back is not None else None}


def summarize(rows: list[dict[str, Any]], interval: float) -> None:
    print(f"interval {interval * 1000:.0f} ms; goal: total <= 1.0 s (first bad request -> blue serves again)")
    print(f"{'scenario':<12} {'trigger':<11} {'detect':>8} {'route':>8} {'total':>8} {'bad reqs':>9} "
          f"{'anchor':>8} {'x faster':>9}")
    for scenario in dict.fromkeys(r["scenario"] for r in rows):
        rs = [r for r in rows if r["scenario"] == scenario]
        totals = [r["total_s"] for r in rs if r["total_s"] is not None]
        med = statistics.median(totals) if totals else float("nan")
        triggers = ",".join(sorted({str(r["trigger"]) for r in rs}))
        print(f"{scenario:<12} {triggers:<11} {statistics.median(r['detect_s'] for r in rs):>7.3f}s "
              f"{statistics.median(r['route_back_s'] for r in rs):>7.3f}s {med:>7.3f}s "
              f"{statistics.median(r['bad_requests'] for r in rs):>9.0f} {ANCHORS[scenario]:>7.0f}s "
              f"{ANCHORS[scenario] / med:>8.0f}x")
        print(f"{'':<12} worst total {max(totals, default=float('nan')):.3f}s over {len(rs)} trials")


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--interval", type=float, default=0.25)
    ap.add_argument("--scenario", choices=["all", *ANCHORS], default="all")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    scenarios = list(ANCHORS) if args.scenario == "all" else [args.scenario]
    rows = []
    for i in range(args.trials):
        for scenario in scenarios:  # interleaved, so noise on the machine hits every scenario
            with tempfile.TemporaryDirectory(prefix="turnout-bench-") as tmp:
                rows.append(await trial(scenario, args.interval, Path(tmp)))
            print(f"trial {i + 1} {scenario}: {json.dumps(rows[-1])}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        summarize(rows, args.interval)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
