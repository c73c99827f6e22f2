"""Routers under load, in one run: throughput and latency with wrk, then 10 switch+rollback cycles.

    python benchmarks/routers.py [--quick] [--json] [--only builtin,haproxy,...]

Method (docs/reference components-measured.md): one nginx backend (1 worker) answers `blue\\n` and
`green\\n` on two ports; every server process (backend and router) is pinned to CPU 0, wrk and this
script to CPU 1. Throughput: `wrk -t1 -c50 --latency -s colors.lua`, rounds interleaved across the
routers, median of the rounds. Switch: wrk with keep-alive connections while this script calls
route() 20 times (green, blue, ...); failed = wrk errors + non-200 + unexpected bodies, and time to
full switch = last response of the old color minus the moment route() returned.
Goals are checked against HAProxy measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from turnout.config import AppConfig, Config, RouterConfig, StateConfig
from turnout.model import Color, Endpoint, Weights
from turnout.routers.builtin import BuiltinRouter
from turnout.routers.envoy.driver import EnvoyRouter
from turnout.routers.haproxy.driver import HAProxyRouter
from turnout.routers.nginx.driver import NginxRouter
from turnout.testing import router_from_config

HERE = Path(__file__).resolve().parent
ROUTERS: dict[str, tuple[Any, dict[str, Any]]] = {  # one worker/thread each: the servers share one core
    "builtin": (BuiltinRouter, {"workers": 1}),
    "haproxy": (HAProxyRouter, {"threads": 1, "maxconn": 8000}),
    "envoy": (EnvoyRouter, {"concurrency": 1}),
    "nginx": (NginxRouter, {"workers": 1}),
}
SERVER_CPU, CLIENT_CPU = {0}, {1}
BACKEND_CONF = """daemon off; worker_processes 1; pid {dir}/backend.pid; error_log {dir}/backend.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000; keepalive_timeout 60s;
  server {{ listen 127.0.0.1:{blue}; location / {{ return 200 "blue\\n"; }} }}
  server {{ listen 127.0.0.1:{green}; location / {{ return 200 "green\\n"; }} }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin_group(pgid: int, cpus: set[int]) -> None:
    """Pin every thread of every process in a process group (master, workers, threads)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if int((proc / "stat").read_text().rpartition(")")[2].split()[2]) != pgid:
                continue
            for task in (proc / "task").iterdir():
                os.sched_setaffinity(int(task.name), cpus)
        except (OSError, ValueError):
            continue


async def wrk(url: str, seconds: float, connections: int = 50) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        "taskset", "-c", ",".join(map(str, CLIENT_CPU)), "wrk", "-t1", f"-c{connections}", f"-d{math.ceil(seconds)}s",
        "--latency", "-s", str(HERE / "colors.lua"), url, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), seconds + 30)
    for line in out.decode().splitlines():
        if line.startswith("COLORS_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("COLORS_JSON "))
            e = result["errors"]
            result["failed"] = (e["connect"] + e["read"] + e["write"] + e["timeout"] + result["non200"]
                                + result["other"])
            result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
            return result
    raise RuntimeError(f"wrk gave no result for {url}: {(out + err).decode()[-500:]}")


async def switch_run(router: Any, url: str, cycles: int, gap: float) -> dict[str, Any]:
    """wrk on production while route() flips green/blue; per switch: time to full switch."""
    load = asyncio.create_task(wrk(url, 0.5 + cycles * 2 * gap + 0.7))
    await asyncio.sleep(0.5)
    switches: list[tuple[Color, float, float]] = []  # (old color, command started, command returned)
    for _ in range(cycles):
        for to in (Color.GREEN, Color.BLUE):
            started = time.time()
            await router.route(Weights.all_to(to))
            switches.append((to.other, started, time.time()))
            await asyncio.sleep(gap)
    result = await load
    segments = result.pop("segments")
    full = []
    for i, (old, _, returned) in enumerate(switches):
        until = switches[i + 1][1] if i + 1 < len(switches) else float("inf")
        last_old = max((end for color, _, end, _ in segments if color == old and end < until), default=returned)
        full.append((last_old - returned) * 1000)
    result["full_switch_ms"] = full
    result["route_ms"] = [(r - s) * 1000 for _, s, r in switches]
    return result


class Bench:
    def __init__(self, folder: Path, quick: bool) -> None:
        self.folder, self.quick = folder, quick
        self.blue, self.green = free_port(), free_port()
        self.backend: subprocess.Popen[bytes] | None = None

    def start_backend(self) -> None:
        conf = self.folder / "backend.conf"
        conf.write_text(BACKEND_CONF.format(dir=self.folder, blue=self.blue, green=self.green))
        self.backend = subprocess.Popen(
            ["taskset", "-c", ",".join(map(str, SERVER_CPU)), "nginx", "-p", str(self.folder), "-e",
             str(self.folder / "backend.err"), "-c", str(conf)], start_new_session=True)
        for _ in range(250):
            try:
                socket.create_connection(("127.0.0.1", self.green), 0.1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("backend nginx did not start")

    def stop_backend(self) -> None:
        if self.backend and self.backend.poll() is None:
            os.killpg(self.backend.pid, 15)
            self.backend.wait(10)

    async def start_router(self, name: str) -> Any:
        cls, options = ROUTERS[name]
        router_cfg = RouterConfig(kind=name, production=f"127.0.0.1:{free_port()}", test=f"127.0.0.1:{free_port()}",
                                  admin=f"127.0.0.1:{free_port()}", drain=2, options=options)
        cfg = Config(app=AppConfig(name="bench"), router=router_cfg,
                     state=StateConfig(path=str(self.folder / name)), base_dir=self.folder)
        router = router_from_config(cls, cfg)
        await router.prepare({Color.BLUE: [Endpoint("127.0.0.1", self.blue)],
                              Color.GREEN: [Endpoint("127.0.0.1", self.green)]})
        await router.route(Weights.all_to(Color.BLUE))
        pid = router.pid if name != "builtin" else int(router.pid_file.read_text())
        pin_group(pid, SERVER_CPU)
        return router


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    names = [n for n in args.only.split(",") if n] if args.only else list(ROUTERS)
    rounds, seconds = (1, 2.0) if args.quick else (5, 6.0)
    cycles, gap = 10, (0.08 if args.quick else 0.5)
    folder = Path(tempfile.mkdtemp(prefix="turnout-bench-"))
    bench = Bench(folder, args.quick)
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, CLIENT_CPU)
    bench.start_backend()
    pin_group(bench.backend.pid if bench.backend else 0, SERVER_CPU)
    routers: dict[str, Any] = {}
    samples: dict[str, list[dict[str, Any]]] = {n: [] for n in ["direct", *names]}
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in names:
            routers[name] = await bench.start_router(name)
        urls = {"direct": f"http://127.0.0.1:{bench.blue}"}
        urls |= {n: (await r.observe()).production_url for n, r in routers.items()}
        await asyncio.gather(*(wrk(u, 1) for u in urls.values()))  # warm-up: connections, caches
        for _ in range(rounds):  # interleaved, so a noisy moment hits every router alike
            for name, url in urls.items():
                samples[name].append(await wrk(url, seconds))
        for name in urls:
            s = samples[name]
            results[name] = {"rps": round(median([x["rps"] for x in s])),
                             "p50_ms": round(median([x["p50_us"] for x in s]) / 1000, 3),
                             "p99_ms": round(median([x["p99_us"] for x in s]) / 1000, 3),
                             "rps_range": [round(min(x["rps"] for x in s)), round(max(x["rps"] for x in s))],
                             "p99_ms_range": [min(x["p99_us"] for x in s) / 1000, max(x["p99_us"] for x in s) / 1000],
                             "failed_throughput": sum(x["failed"] for x in s),
                             "failed": None, "full_switch_ms_max": None, "route_ms_median": None}
        for name, router in routers.items():
            sw = await switch_run(router, urls[name], cycles, gap)
            results[name] |= {"failed": sw["failed"], "full_switch_ms_max": round(max(sw["full_switch_ms"]), 2),
                              "route_ms_median": round(median(sw["route_ms"]), 2),
                              "switch_errors": sw["errors"], "switch_requests": sw["requests"]}
    finally:
        for router in routers.values():
            await router.release()
        bench.stop_backend()
        shutil.rmtree(folder, ignore_errors=True)
    return {"routers": results, "goals": goals(results), "method": {
        "rounds": rounds, "seconds": seconds, "cycles": cycles, "gap_s": gap, "connections": 50}}


def goals(r: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    hap, bi = r.get("haproxy"), r.get("builtin")
    if hap and bi:
        out["builtin_rps_vs_haproxy >= 0.5"] = round(bi["rps"] / hap["rps"], 2)
        out["builtin_p99_vs_haproxy <= 1.5"] = round(bi["p99_ms"] / hap["p99_ms"], 2)
    for name, res in r.items():
        if res["failed"] is not None:
            out[f"{name}_failed == 0"] = res["failed"]
    for name, limit in (("builtin", 5), ("haproxy", 5), ("envoy", 50)):
        if name in r:
            out[f"{name}_full_switch_ms <= {limit}"] = r[name]["full_switch_ms_max"]
    return out


def met(key: str, value: float) -> bool:
    op, limit = key.split()[-2:]
    return {"<=": value <= float(limit), ">=": value >= float(limit), "==": value == float(limit)}[op]


def table(data: dict[str, Any]) -> str:
    r = data["routers"]
    hap = r.get("haproxy", {}).get("rps")
    lines = ["| path | req/s median (min-max) | p50 ms | p99 ms median (min-max) | vs HAProxy "
             "| failed (10 switch+rollback) | full switch max ms | route() ms |", "|---|---|---|---|---|---|---|---|"]

    def fmt(v: Any) -> str:
        return "-" if v is None else str(v)

    for name, x in r.items():
        ratio = f"{x['rps'] / hap:.2f}" if hap else "-"
        lo, hi = x["rps_range"]
        p_lo, p_hi = x["p99_ms_range"]
        lines.append(f"| {name} | {x['rps']:,} ({lo:,}-{hi:,}) | {x['p50_ms']} | {x['p99_ms']} ({p_lo:g}-{p_hi:g}) "
                     f"| {ratio} | {fmt(x['failed'])} | {fmt(x['full_switch_ms_max'])} | {fmt(x['route_ms_median'])} |")
    lines += ["", "| goal | value | met |", "|---|---|---|"]
    lines += [f"| {k} | {v} | {'yes' if met(k, v) else 'NO'} |" for k, v in data["goals"].items()]
    m = data["method"]
    lines += ["", f"wrk -t1 -c{m['connections']}, {m['rounds']} round(s) of {m['seconds']:g} s (median); "
                  f"{m['cycles']} switch+rollback cycles, {m['gap_s']} s apart, under keep-alive load"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short phases: the whole run fits in ~60 s")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", default="", help="comma-separated routers (default: all)")
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "haproxy", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: run scripts/install-servers.sh")
    others = subprocess.run(["pgrep", "-x", "wrk"], check=False, capture_output=True, text=True).stdout.split()
    if others:  # two benchmarks on two cores measure each other
        print(f"warning: other wrk processes are running ({', '.join(others)}): numbers will be off",
              file=sys.stderr)
    started = time.monotonic()
    data = asyncio.run(run(args))
    data["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(data, indent=2) if args.json else table(data) + f"\n\ntotal {data['elapsed_s']} s")


if __name__ == "__main__":
    main()
