"""Builtin proxy vs HAProxy vs direct, measured in one run (method of reference/components-measured.md).

One nginx (1 worker) serves blue/green; nginx, HAProxy and the turnout proxy are pinned to CPU 0, wrk to CPU 1:
`taskset -c 1 wrk -t1 -c50 -dDs --latency URL`. Rounds interleave the targets so VM noise hits all of them.

    python benchmarks/proxy_quick.py [--rounds 3] [--duration 10] [--workers 1] [--switch-interval 0.1]

With --switch-interval, one more wrk run goes through the turnout proxy while a thread flips the route
between blue and green at that interval; a wrk Lua script counts bodies per color, and anything that is
not a 200 with a whole "blue\n"/"green\n" body counts as failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from turnout.infra.procs import free_port


def free_ports(n: int) -> list[int]:
    return [free_port() for _ in range(n)]


def wait_port(port: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def to_ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    assert m, text
    return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]


def wrk(url: str, duration: int, conns: int) -> dict[str, float]:
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", url],
                         check=False, capture_output=True, text=True, timeout=duration + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "failed": errs + (int(non2xx.group(1)) if non2xx else 0)}


COLORS_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) blue = 0; green = 0; other = 0 end
function response(status, headers, body)
  if status ~= 200 then other = other + 1
  elseif body == "blue\\n" then blue = blue + 1
  elseif body == "green\\n" then green = green + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local b, g, o = 0, 0, 0
  for _, t in ipairs(threads) do b = b + t:get("blue"); g = g + t:get("green"); o = o + t:get("other") end
  io.write(string.format("COLORS %d %d %d\\n", b, g, o))
end
"""


def switch_run(d: Path, port: int, adm: int, duration: int, conns: int, interval: float) -> None:
    script = d / "colors.lua"
    script.write_text(COLORS_LUA)
    stop = threading.Event()
    flips = [0]

    def flipper() -> None:
        while not stop.wait(interval):
            w = {"blue": 0, "green": 100} if flips[0] % 2 == 0 else {"blue": 100, "green": 0}
            req = urllib.request.Request(f"http://127.0.0.1:{adm}/route", method="PUT",
                                         headers={"Authorization": "Bearer bench"},
                                         data=json.dumps({"weights": w}).encode())
            urllib.request.urlopen(req, timeout=5).read()
            flips[0] += 1

    t = threading.Thread(target=flipper)
    t.start()
    try:
        out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{duration}s", "-s", str(script),
                              f"http://127.0.0.1:{port}/"], check=False, capture_output=True, text=True,
                             timeout=duration + 30).stdout
    finally:
        stop.set()
        t.join()
    blue, green, other = (int(x) for x in re.search(r"COLORS (\d+) (\d+) (\d+)", out).groups())  # type: ignore[union-attr]
    errs = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    print(f"\nswitch every {interval * 1000:.0f} ms under wrk -t1 -c{conns} -d{duration}s: {flips[0]} switches, "
          f"blue {blue}, green {green}, failed {other + errs} (bad status/body {other}, socket errors {errs})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--switch-interval", type=float, default=0.0, help="also run a switch test (seconds)")
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="turnout-bench-"))
    blue, green, hap, prod, test, adm = free_ports(6)
    (d / "nginx.conf").write_text(f"""worker_processes 1; pid {d}/nginx.pid; error_log {d}/nginx.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000; client_body_temp_path {d}/b; proxy_temp_path {d}/p;
  fastcgi_temp_path {d}/f; uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;
  server {{ listen 127.0.0.1:{blue}; location / {{ return 200 "blue\\n"; }} }}
  server {{ listen 127.0.0.1:{green}; location / {{ return 200 "green\\n"; }} }} }}
""")
    (d / "color.map").write_text("active be_blue\n")
    (d / "haproxy.cfg").write_text(f"""global
    nbthread 1
    maxconn 8000
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
    option http-keep-alive
frontend fe
    bind 127.0.0.1:{hap}
    use_backend %[str(active),map({d}/color.map,be_blue)]
backend be_blue
    server blue 127.0.0.1:{blue}
backend be_green
    server green 127.0.0.1:{green}
""")
    (d / "token").write_text("bench")
    procs = [
        subprocess.Popen(["taskset", "-c", "0", "nginx", "-p", str(d), "-c", str(d / "nginx.conf"),
                          "-g", "daemon off;"]),
        subprocess.Popen(["taskset", "-c", "0", "haproxy", "-db", "-f", str(d / "haproxy.cfg")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "turnout.proxy",
                          "--production", f"127.0.0.1:{prod}", "--test", f"127.0.0.1:{test}",
                          "--admin", f"127.0.0.1:{adm}", "--token-file", str(d / "token"),
                          "--state-file", str(d / "state.json"), "--workers", str(args.workers),
                          "--log-file", str(d / "proxy.log")]),
    ]
    try:
        for port in (blue, green, hap, prod, adm):
            wait_port(port)
        req = urllib.request.Request(
            f"http://127.0.0.1:{adm}/backends", method="PUT", headers={"Authorization": "Bearer bench"},
            data=json.dumps({"blue": [f"127.0.0.1:{blue}"], "green": [f"127.0.0.1:{green}"]}).encode())
        urllib.request.urlopen(req, timeout=5).read()
        targets = {"direct nginx": blue, "haproxy": hap, "turnout proxy": prod}
        results: dict[str, list[dict[str, float]]] = {k: [] for k in targets}
        for r in range(args.rounds):
            for name, port in targets.items():
                res = wrk(f"http://127.0.0.1:{port}/", args.duration, args.connections)
                results[name].append(res)
                print(f"round {r + 1} {name:14s} {res['rps']:9.0f} req/s  p50 {res['p50']:.2f} ms  "
                      f"p99 {res['p99']:.2f} ms  failed {res['failed']:.0f}", flush=True)
        med = {k: {m: statistics.median(x[m] for x in v) for m in ("rps", "p50", "p99", "failed")}
               for k, v in results.items()}
        h = med["haproxy"]
        print(f"\nmedians of {args.rounds} rounds, wrk -t1 -c{args.connections} -d{args.duration}s:")
        for name, m in med.items():
            print(f"{name:14s} {m['rps']:9.0f} req/s ({m['rps'] / h['rps']:.2f}x haproxy)  p50 {m['p50']:.2f} ms  "
                  f"p99 {m['p99']:.2f} ms ({m['p99'] / h['p99']:.2f}x haproxy)  failed {m['failed']:.0f}")
        if args.switch_interval:
            switch_run(d, prod, adm, args.duration, args.connections, args.switch_interval)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(d, ignore_errors=True) if not os.environ.get("KEEP") else print(d)


if __name__ == "__main__":
    main()
