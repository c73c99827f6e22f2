"""Routers under load, in one run: five workloads with wrk, 10,000 held connections, 10 switch+rollback cycles.

    python benchmarks/routers.py [--quick] [--json] [--only builtin,haproxy,...] [--skip-many]

Method (docs/reference components-measured.md): one nginx backend (1 worker) answers `blue\\n` and
`green\\n` on two ports (plus a 1 MiB file and an upload sink); every server process (backend and
router) is pinned to CPU 0, wrk and this script to CPU 1; every router runs one worker/thread.
Workloads, rounds interleaved across the routers, median of the rounds:

- tiny: `wrk -t1 -c50 --latency -s colors.lua` on keep-alive connections (body checked per response);
- big: 1 MiB answers, `wrk -t1 -c10` (throughput in MiB/s);
- upload: 1 MiB POST bodies streamed through, `wrk -t1 -c10` (MiB/s);
- close: a new connection per request, `wrk -t1 -c50 -H "Connection: close"`;
- many: 10,000 keep-alive clients (benchmarks/manyclients.py) each get an answer, are held idle while the
  router's memory is read (RSS of its process group, minus before), then each get a second answer.

Switch: wrk with keep-alive connections while this script calls route() 20 times (green, blue, ...);
failed = wrk errors + non-200 + unexpected bodies, and time to full switch = last response of the old
color minus the moment route() returned. Goals are checked against HAProxy measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
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
from turnout.infra.procs import free_port
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
BACKEND_CONF = """daemon off; worker_processes 1; worker_rlimit_nofile 20000; pid {dir}/backend.pid;
error_log {dir}/backend.err;
events {{ worker_connections 16000; }}
http {{ access_log off; keepalive_requests 1000000; keepalive_timeout 60s; client_body_temp_path {dir}/body;
  server {{ listen 127.0.0.1:{blue}; location / {{ return 200 "blue\\n"; }}
           location = /1m {{ alias {dir}/1m.bin; default_type application/octet-stream; }}
           location = /upload {{ client_max_body_size 2m; return 200 "ok\\n"; }} }}
  server {{ listen 127.0.0.1:{green}; location / {{ return 200 "green\\n"; }} }}
}}
"""
MIB = 1024 * 1024
# name: (path, wrk connections, extra wrk args, environment for summary.lua)
WORKLOADS: dict[str, tuple[str, int, list[str], dict[str, str]]] = {
    "big": ("/1m", 10, [], {}),
    "upload": ("/upload", 10, [], {"UPLOAD": str(MIB)}),
    "close": ("/", 50, ["-H", "Connection: close"], {}),
}
MANY = 10_000


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


async def wrk_summary(url: str, seconds: float, connections: int, extra: list[str],
                      env: dict[str, str]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        "taskset", "-c", ",".join(map(str, CLIENT_CPU)), "wrk", "-t1", f"-c{connections}", f"-d{math.ceil(seconds)}s",
        "--latency", *extra, "-s", str(HERE / "summary.lua"), url, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env={**os.environ, **env})
    out, err = await asyncio.wait_for(proc.communicate(), seconds + 30)
    for line in out.decode().splitlines():
        if line.startswith("SUMMARY_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("SUMMARY_JSON "))
            e = result["errors"]
            result["failed"] = e["connect"] + e["read"] + e["write"] + e["timeout"] + e["status"]
            secs = result["duration_us"] / 1e6
            result["rps"] = result["requests"] / secs
            # answers: bytes read; uploads: bytes sent (wrk counts only what it reads)
            result["mib_s"] = result["requests"] * int(env.get("UPLOAD", "0")) / secs / MIB if env.get("UPLOAD") \
                else result["bytes"] / secs / MIB
            return result
    raise RuntimeError(f"wrk gave no result for {url}: {(out + err).decode()[-500:]}")


def group_rss_kib(pgid: int) -> int:
    """Resident memory of every process in a process group (a router's master and workers), KiB."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if int((proc / "stat").read_text().rpartition(")")[2].split()[2]) != pgid:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total


async def many(url: str, pgid: int, n: int) -> dict[str, Any]:
    """n keep-alive clients: first answers, memory held idle, second answers (benchmarks/manyclients.py)."""
    hostport = url.removeprefix("http://").rstrip("/")
    before = group_rss_kib(pgid)
    proc = await asyncio.create_subprocess_exec(
        "taskset", "-c", ",".join(map(str, CLIENT_CPU)), sys.executable, str(HERE / "manyclients.py"), hostport,
        str(n), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)
        held = int(line.split()[1]) if line.startswith(b"held") else 0
        await asyncio.sleep(1.0)
        after = group_rss_kib(pgid)
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
        result: dict[str, Any] = json.loads(await asyncio.wait_for(proc.stdout.readline(), 120))
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    result["kib_per_connection"] = round((after - before) / held, 2) if held else None
    result["rss_kib_before"], result["rss_kib_held"] = before, after
    return result


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
        self.pgids: dict[str, int] = {}

    def start_backend(self) -> None:
        conf = self.folder / "backend.conf"
        conf.write_text(BACKEND_CONF.format(dir=self.folder, blue=self.blue, green=self.green))
        (self.folder / "1m.bin").write_bytes(os.urandom(MIB))
        os.chmod(self.folder, 0o755)  # nginx workers run as nobody: they must read the 1 MiB file
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
        try:
            await router.prepare({Color.BLUE: [Endpoint("127.0.0.1", self.blue)],
                                  Color.GREEN: [Endpoint("127.0.0.1", self.green)]})
            await router.route(Weights.all_to(Color.BLUE))
            pid = router.pid
            pin_group(pid, SERVER_CPU)
        except BaseException:
            await router.release()  # a router that started must not outlive a failed run
            raise
        self.pgids[name] = pid  # each router runs in its own session: its pid is its process group
        return router


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarize(s: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rps": round(median([x["rps"] for x in s])),
            "mib_s": round(median([x.get("mib_s", 0.0) for x in s]), 1),
            "p50_ms": round(median([x["p50_us"] for x in s]) / 1000, 3),
            "p99_ms": round(median([x["p99_us"] for x in s]) / 1000, 3),
            "rps_range": [round(min(x["rps"] for x in s)), round(max(x["rps"] for x in s))],
            "p99_ms_range": [min(x["p99_us"] for x in s) / 1000, max(x["p99_us"] for x in s) / 1000],
            "failed": sum(x["failed"] for x in s)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    names = [n for n in args.only.split(",") if n] if args.only else list(ROUTERS)
    rounds, seconds = (1, 2.0) if args.quick else (5, 6.0)
    wl_rounds, wl_seconds = (1, 2.0) if args.quick else (3, 5.0)
    cycles, gap = 10, (0.08 if args.quick else 0.5)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by every router: 10,000 clients
    folder = Path(tempfile.mkdtemp(prefix="turnout-bench-"))
    bench = Bench(folder, args.quick)
    if len(os.sched_getaffinity(0)) >= 2:
        os.sched_setaffinity(0, CLIENT_CPU)
    bench.start_backend()
    pin_group(bench.backend.pid if bench.backend else 0, SERVER_CPU)
    routers: dict[str, Any] = {}
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {}
    results: dict[str, dict[str, Any]] = {}
    try:
        for name in names:
            routers[name] = await bench.start_router(name)
        urls = {"direct": f"http://127.0.0.1:{bench.blue}"}
        urls |= {n: (await r.observe()).production_url for n, r in routers.items()}
        await asyncio.gather(*(wrk(u, 1) for u in urls.values()))  # warm-up: connections, caches
        for name in urls:
            samples[name] = {w: [] for w in ("tiny", *WORKLOADS)}
        for _ in range(rounds):  # interleaved, so a noisy moment hits every router alike
            for name, url in urls.items():
                samples[name]["tiny"].append(await wrk(url, seconds))
        for _ in range(wl_rounds):
            for workload, (path, conns, extra, env) in WORKLOADS.items():
                for name, url in urls.items():
                    samples[name][workload].append(await wrk_summary(url.rstrip("/") + path, wl_seconds, conns,
                                                                     extra, env))
        for name in urls:
            results[name] = {w: summarize(x) for w, x in samples[name].items()}
            results[name]["switch"] = None
            results[name]["many"] = None
        if not args.skip_many:
            for name in routers:
                results[name]["many"] = await many(urls[name], bench.pgids[name], 2000 if args.quick else MANY)
        for name, router in routers.items():
            sw = await switch_run(router, urls[name], cycles, gap)
            results[name]["switch"] = {
                "failed": sw["failed"], "full_switch_ms_max": round(max(sw["full_switch_ms"]), 2),
                "route_ms_median": round(median(sw["route_ms"]), 2), "errors": sw["errors"],
                "requests": sw["requests"]}
    finally:
        for router in routers.values():
            await router.release()
        bench.stop_backend()
        shutil.rmtree(folder, ignore_errors=True)
    return {"routers": results, "goals": goals(results), "method": {
        "rounds": rounds, "seconds": seconds, "workload_rounds": wl_rounds, "workload_seconds": wl_seconds,
        "cycles": cycles, "gap_s": gap, "connections": 50, "many": 2000 if args.quick else MANY}}


def goals(r: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Issue 11's goals, each against HAProxy measured in the same run."""
    out: dict[str, Any] = {}
    hap, bi = r.get("haproxy"), r.get("builtin")
    if hap and bi:
        out["tiny: builtin req/s vs haproxy >= 1.0"] = round(bi["tiny"]["rps"] / hap["tiny"]["rps"], 2)
        out["tiny: builtin p99 vs haproxy <= 1.2"] = round(bi["tiny"]["p99_ms"] / hap["tiny"]["p99_ms"], 2)
        out["big: builtin MiB/s vs haproxy >= 0.8"] = round(bi["big"]["mib_s"] / hap["big"]["mib_s"], 2)
        out["upload: builtin MiB/s vs haproxy >= 0.8"] = round(bi["upload"]["mib_s"] / hap["upload"]["mib_s"], 2)
        out["close: builtin req/s vs haproxy >= 0.8"] = round(bi["close"]["rps"] / hap["close"]["rps"], 2)
    if bi and bi.get("many"):
        m = bi["many"]
        out["many: builtin clients not served == 0"] = m["connections"] - min(m["held"], m["served_again"])
        if m["kib_per_connection"] is not None:
            out["many: builtin KiB per idle connection <= 10"] = m["kib_per_connection"]
    for name, res in r.items():
        if res.get("switch"):
            out[f"{name}: failed across switches == 0"] = res["switch"]["failed"]
    for name, limit in (("builtin", 5), ("haproxy", 5), ("envoy", 50)):
        if name in r and r[name].get("switch"):
            out[f"{name}: full switch ms <= {limit}"] = r[name]["switch"]["full_switch_ms_max"]
    return out


def met(key: str, value: float) -> bool:
    op, limit = key.split()[-2:]
    return {"<=": value <= float(limit), ">=": value >= float(limit), "==": value == float(limit)}[op]


def table(data: dict[str, Any]) -> str:
    r = data["routers"]
    hap = r.get("haproxy")

    def ratio(name: str, workload: str, key: str) -> str:
        if not hap or name == "haproxy":
            return ""
        return f" ({r[name][workload][key] / hap[workload][key]:.2f}x)"

    def fmt(v: Any) -> str:
        return "-" if v is None else str(v)

    lines = ["| router | tiny req/s (min-max) | tiny p50 / p99 ms | 1 MiB answers MiB/s | 1 MiB uploads MiB/s "
             "| new conn per request req/s | 10,000 clients: served, KiB each | failed (switches) "
             "| full switch max ms |", "|---|---|---|---|---|---|---|---|---|"]
    for name, x in r.items():
        t = x["tiny"]
        lo, hi = t["rps_range"]
        m, sw = x.get("many"), x.get("switch")
        many_s = "-" if not m else (f"{min(m['held'], m['served_again']):,}/{m['connections']:,}, "
                                    f"{fmt(m['kib_per_connection'])}")
        lines.append(
            f"| {name} | {t['rps']:,} ({lo:,}-{hi:,}){ratio(name, 'tiny', 'rps')} | {t['p50_ms']} / {t['p99_ms']}"
            f"{ratio(name, 'tiny', 'p99_ms')} | {x['big']['mib_s']:,}{ratio(name, 'big', 'mib_s')} "
            f"| {x['upload']['mib_s']:,}{ratio(name, 'upload', 'mib_s')} | {x['close']['rps']:,}"
            f"{ratio(name, 'close', 'rps')} | {many_s} | {fmt(sw and sw['failed'])} "
            f"| {fmt(sw and sw['full_switch_ms_max'])} |")
    failed = {n: {w: x[w]["failed"] for w in ("tiny", *WORKLOADS)} for n, x in r.items()}
    lines += ["", "| goal | value | met |", "|---|---|---|"]
    lines += [f"| {k} | {v} | {'yes' if met(k, v) else 'NO'} |" for k, v in data["goals"].items()]
    m = data["method"]
    lines += ["", f"tiny: wrk -t1 -c{m['connections']}, {m['rounds']} round(s) of {m['seconds']:g} s; big/upload: "
                  f"-c10, close: -c50, {m['workload_rounds']} round(s) of {m['workload_seconds']:g} s; medians "
                  f"(ratio to HAProxy); {m['many']:,} held clients; {m['cycles']} switch+rollback cycles "
                  f"{m['gap_s']} s apart under keep-alive load", f"wrk errors + non-2xx per workload: {failed}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="short phases: the whole run fits in ~2 min")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", default="", help="comma-separated routers (default: all)")
    parser.add_argument("--skip-many", action="store_true", help="leave out the 10,000-client phase")
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
