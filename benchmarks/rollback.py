"""Rollback, timed the way users feel it: from a keypress, and from the first failing user request.

Two parts, on real routers (`--routers`, default all four we own) with the example app as blue
(1.0.0) and green (2.0.0), and keep-alive user traffic through the production listener the whole
time (measure.loadgen: every response timed and tagged with its color).

keypress   the real agent and CLI (builtin proxy, or HAProxy): green is live, `turnout rollback` is
           typed; measured from just before the CLI process starts to the last response served
           by green (the way benchmarks/routers.py measures a full switch). Goal: median of the
           trials <= 250 ms.
triggers   the post-switch watch as the agent runs it (engine.watch: the router's counters of user
           traffic in 100 ms windows, and the probes), a bad green switched to, and the rollback
           that follows when a trigger fires. Measured from the first failing user request (its
           response; for latency, the first green response) to the first blue response after
           the rollback. Scenarios:
             error-spike  green answers 500 to every request while its health check stays OK
             late-errors  the same, starting 0.5-1.0 s after the switch
             outage       green's process is killed right after the switch
             latency      green answers 200 ms slower
           Goals: errors and outage median <= 100 ms, worst <= 250 ms; latency <= 1 s.

    python benchmarks/rollback.py [--trials 10] [--routers builtin,haproxy,nginx,envoy]
                                  [--parts keypress,triggers] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from stacks import write_config

from turnout import plugins
from turnout.config import AppConfig, Config, RouterConfig, StabilizeConfig, StateConfig
from turnout.engine.watch import (
    PROBES,
    TRAFFIC,
    ProbeSampler,
    Stream,
    TrafficSampler,
    sample_baselines,
    triggers_for,
    watch_streams,
)
from turnout.infra.procs import free_port
from turnout.measure.loadgen import Observer, run_load
from turnout.model import Color, Endpoint, Weights
from turnout.testing import router_from_config

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "src" / "turnout" / "examples" / "app.py"
ADMIN_TOKEN = "bench-admin-token"  # the example app's fault switch is off without it
SCENARIOS = ("error-spike", "late-errors", "outage", "latency")
GOALS = {"keypress": (250.0, None), "error-spike": (100.0, 250.0), "late-errors": (100.0, 250.0),
         "outage": (100.0, 250.0), "latency": (1000.0, None)}  # ms: median goal, worst goal
Event = tuple[float, int, str | None, str | None]  # (response time, status, color, error)


def recorder(events: list[Event]) -> Observer:
    return lambda *e: events.append(e)


async def start_app(port: int, color: str, version: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, str(APP), "--port", str(port), "--version", version, "--color", color,
                             "--grace", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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


async def fault(port: int, body: dict[str, Any], after: float = 0.0) -> None:
    await asyncio.sleep(after)
    async with httpx.AsyncClient(timeout=2) as client:
        r = await client.post(f"http://127.0.0.1:{port}/admin/fault", json=body,
                              headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        r.raise_for_status()


def build_router(kind: str, workdir: Path) -> Any:
    section = RouterConfig(kind=kind, production=f"127.0.0.1:{free_port()}", test=f"127.0.0.1:{free_port()}",
                           admin=f"127.0.0.1:{free_port()}", drain=1.0)
    cls = plugins.load("routers", kind, key=("router", "kind"))
    return router_from_config(cls, Config(app=AppConfig(name="bench"), router=section,
                                          state=StateConfig(path=str(workdir / "state.db")), base_dir=workdir))


async def trigger_trial(kind: str, scenario: str, workdir: Path) -> dict[str, Any]:
    p_blue, p_green = free_port(), free_port()
    blue, green = await start_app(p_blue, "blue", "1.0.0"), await start_app(p_green, "green", "2.0.0")
    router = build_router(kind, workdir)
    events: list[Event] = []
    stop = asyncio.Event()
    late: asyncio.Future[None] | None = None
    try:
        await router.prepare({Color.BLUE: [Endpoint("127.0.0.1", p_blue)],
                              Color.GREEN: [Endpoint("127.0.0.1", p_green)]})
        await router.route(Weights.all_to(Color.BLUE))
        state = await router.observe()
        cfg = StabilizeConfig.model_validate({"baseline": "2s"})  # the defaults an agent runs with

        def streams(color: Color) -> list[Stream]:
            return [Stream(PROBES, ProbeSampler(state.production_url, cfg.probe), cfg.interval, triggers_for(cfg)),
                    Stream(TRAFFIC, TrafficSampler(router, color), cfg.traffic.interval,
                           triggers_for(cfg, TRAFFIC))]

        users = asyncio.ensure_future(run_load(f"{state.production_url}/", concurrency=8, duration=90, rps=400,
                                               stop=stop, timeout=2.0, observer=recorder(events)))
        baselines = await sample_baselines(streams(Color.BLUE), cfg.baseline)
        if scenario == "error-spike":
            await fault(p_green, {"error_rate": 1.0})
        elif scenario == "latency":
            await fault(p_green, {"latency_ms": 200})
        watched = streams(Color.GREEN)
        for s in watched:
            s.baseline = baselines.get(s.name)
        switched = time.time()
        await router.route(Weights.all_to(Color.GREEN))
        if scenario == "outage":
            green.send_signal(signal.SIGKILL)
        elif scenario == "late-errors":
            late = asyncio.ensure_future(fault(p_green, {"error_rate": 1.0}, after=random.uniform(0.5, 1.0)))
        result = await watch_streams(watched, window=30)
        detected = time.time()
        await router.route(Weights.all_to(Color.BLUE))  # the rollback: one router call
        routed = time.time()
        if late is not None:
            await late
        await asyncio.sleep(2.5)  # longer than a user request may take: the ones held on green end
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
    first_bad = min(green_seen) if scenario == "latency" and green_seen else (bad[0][0] if bad else None)
    back = min((e[0] for e in events if e[0] >= detected and e[2] == "blue" and 200 <= e[1] < 300), default=None)
    total = (back - first_bad) * 1000 if back is not None and first_bad is not None else None
    return {"router": kind, "scenario": scenario, "trigger": result.trigger, "source": result.source,
            "bad_requests": len(bad), "detect_ms": round((detected - first_bad) * 1000, 1) if first_bad else None,
            "route_back_ms": round((routed - detected) * 1000, 1),
            "ms": round(total, 1) if total is not None else None}


def cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "turnout.cli", *args], cwd=folder, capture_output=True, text=True,
                          timeout=180, check=False)


async def keypress_trials(kind: str, trials: int, workdir: Path) -> list[dict[str, Any]]:
    """The real agent: green live, `turnout rollback` typed, the last green response timed."""
    write_config(workdir, kind)
    rows: list[dict[str, Any]] = []
    for args in (("up", "--detach", "--version", "1.0"), ("deploy", "2.0")):
        res = cli(workdir, *args)
        if res.returncode != 0:
            raise RuntimeError(f"turnout {' '.join(args)}: {res.stderr}")
    try:
        url = json.loads(cli(workdir, "status", "--json").stdout)["router"]["production_url"]
        for i in range(trials):
            live = "green" if i % 2 == 0 else "blue"  # rollback, then switch back to the release
            command = "rollback" if live == "green" else "switch"
            events: list[Event] = []
            stop = asyncio.Event()
            users = asyncio.ensure_future(run_load(f"{url}/", concurrency=8, duration=30, rps=1000, stop=stop,
                                                   timeout=2.0, observer=recorder(events)))
            await asyncio.sleep(0.5)
            typed = time.time()
            res = await asyncio.to_thread(cli, workdir, command)
            returned = time.time()
            await asyncio.sleep(0.3)
            stop.set()
            await users
            if res.returncode != 0:
                raise RuntimeError(f"turnout {command}: {res.stderr}")
            last_old = max((e[0] for e in events if e[2] == live), default=typed)
            failed = sum(1 for e in events if e[3] is not None or not 200 <= e[1] < 300)
            if command == "rollback":
                rows.append({"router": kind, "scenario": "keypress", "ms": round((last_old - typed) * 1000, 1),
                             "cli_wall_ms": round((returned - typed) * 1000, 1), "failed": failed})
    finally:
        cli(workdir, "down")
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in dict.fromkeys((r["router"], r["scenario"]) for r in rows):
        values = [r["ms"] for r in rows if (r["router"], r["scenario"]) == key and r["ms"] is not None]
        missed = sum(1 for r in rows if (r["router"], r["scenario"]) == key and r["ms"] is None)
        median_goal, worst_goal = GOALS[key[1]]
        med, worst = (statistics.median(values), max(values)) if values else (float("nan"), float("nan"))
        out[f"{key[0]} {key[1]}"] = {
            "median_ms": round(med, 1), "worst_ms": round(worst, 1), "trials": len(values), "missed": missed,
            "goal": f"median <= {median_goal:g}" + (f", worst <= {worst_goal:g}" if worst_goal else ""),
            "met": bool(values) and not missed and med <= median_goal and (worst_goal is None or worst <= worst_goal)}
    return out


async def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--routers", default="builtin,haproxy,nginx,envoy")
    ap.add_argument("--parts", default="keypress,triggers")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    kinds, parts = args.routers.split(","), args.parts.split(",")
    rows: list[dict[str, Any]] = []
    if "keypress" in parts:
        for kind in (k for k in kinds if k in ("builtin", "haproxy")):  # the two; the others alike
            with tempfile.TemporaryDirectory(prefix="turnout-bench-") as tmp:
                rows += await keypress_trials(kind, args.trials * 2, Path(tmp))
            print(f"keypress {kind}: {[r['ms'] for r in rows if r['router'] == kind]}", file=sys.stderr)
    if "triggers" in parts:
        for i in range(args.trials):
            for kind in kinds:
                for scenario in args.scenarios.split(","):  # interleaved: noise hits every cell alike
                    with tempfile.TemporaryDirectory(prefix="turnout-bench-") as tmp:
                        rows.append(await trigger_trial(kind, scenario, Path(tmp)))
                    print(f"trial {i + 1}: {json.dumps(rows[-1])}", file=sys.stderr)
    summary = summarize(rows)
    if args.json:
        print(json.dumps({"summary": summary, "rows": rows}, indent=2))
    else:
        print(f"{'router scenario':<26} {'median':>9} {'worst':>9} {'trials':>7}  goal")
        for name, s in summary.items():
            print(f"{name:<26} {s['median_ms']:>7.1f}ms {s['worst_ms']:>7.1f}ms {s['trials']:>7}  {s['goal']} "
                  f"{'met' if s['met'] else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
