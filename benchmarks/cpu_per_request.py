"""CPU per request, split user/system, for HAProxy, the builtin proxy and a floor: the least a uvloop proxy can do.

    python benchmarks/cpu_per_request.py [--rounds 2] [--seconds 5]

One nginx backend; HAProxy (nbthread 1), the builtin proxy and `floor` (below: each client connection paired
with its own upstream connection, bytes copied both ways, no HTTP at all) pinned to CPU 0, wrk -c50 on CPU 1.
For each, from /proc/PID/stat and /proc/PID/status around a wrk run: user and system microseconds per request
and involuntary context switches per request (the backend, woken on the same core, preempting the proxy).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from turnout.infra.procs import free_port

FLOOR = '''
import asyncio, sys, uvloop
UP = ("127.0.0.1", int(sys.argv[2]))
class Up(asyncio.Protocol):
    def __init__(self, peer): self.peer = peer
    def connection_made(self, t): self.t = t
    def data_received(self, d): self.peer.t.write(d)
class Down(asyncio.Protocol):
    def connection_made(self, t):
        self.t, self.buf, self.up = t, [], None
        asyncio.get_running_loop().create_task(self.open())
    async def open(self):
        _, self.up = await asyncio.get_running_loop().create_connection(lambda: Up(self), *UP)
        for b in self.buf: self.up.t.write(b)
    def data_received(self, d):
        if self.up is None: self.buf.append(d)
        else: self.up.t.write(d)
async def main():
    s = await asyncio.get_running_loop().create_server(Down, "127.0.0.1", int(sys.argv[1]))
    await s.serve_forever()
uvloop.run(main())
'''


def wait_port(port: int) -> None:
    for _ in range(250):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def usage(pid: int) -> tuple[int, int, int]:
    """user ticks, system ticks, involuntary context switches."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields[11]), int(fields[12]), int(status["nonvoluntary_ctxt_switches"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=5)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="turnout-cpu-"))
    blue, hap, prod, test, adm, floor = (free_port() for _ in range(6))
    (d / "nginx.conf").write_text(f"""daemon off; worker_processes 1; pid {d}/n.pid; error_log {d}/n.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000; client_body_temp_path {d}/b;
  server {{ listen 127.0.0.1:{blue}; location / {{ return 200 "blue\\n"; }} }} }}
""")
    (d / "haproxy.cfg").write_text(f"""global
    nbthread 1
    maxconn 8000
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend fe
    bind 127.0.0.1:{hap}
    default_backend be
backend be
    server blue 127.0.0.1:{blue}
""")
    (d / "floor.py").write_text(FLOOR)
    (d / "token").write_text("cpu")
    pin = ["taskset", "-c", "0"]
    procs = {
        "nginx": subprocess.Popen([*pin, "nginx", "-p", str(d), "-c", str(d / "nginx.conf")]),
        "haproxy": subprocess.Popen([*pin, "haproxy", "-db", "-f", str(d / "haproxy.cfg")],
                                    stderr=subprocess.DEVNULL),
        "builtin": subprocess.Popen([*pin, sys.executable, "-m", "turnout.proxy", "--production", f"127.0.0.1:{prod}",
                                     "--test", f"127.0.0.1:{test}", "--admin", f"127.0.0.1:{adm}", "--token-file",
                                     str(d / "token"), "--state-file", str(d / "state.json"), "--log-file",
                                     str(d / "proxy.log")]),
        "floor": subprocess.Popen([*pin, sys.executable, str(d / "floor.py"), str(floor), str(blue)]),
    }
    ports = {"haproxy": hap, "builtin": prod, "floor": floor}
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    try:
        for port in (blue, hap, adm, floor):
            wait_port(port)
        req = urllib.request.Request(f"http://127.0.0.1:{adm}/backends", method="PUT",
                                     headers={"Authorization": "Bearer cpu"},
                                     data=json.dumps({"blue": [f"127.0.0.1:{blue}"], "green": []}).encode())
        urllib.request.urlopen(req, timeout=5).read()
        for r in range(args.rounds):
            for name, port in ports.items():
                pid = procs[name].pid
                u0, s0, c0 = usage(pid)
                out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c50", f"-d{args.seconds}s",
                                      f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True,
                                     timeout=args.seconds + 30).stdout
                u1, s1, c1 = usage(pid)
                rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
                n = rps * args.seconds
                print(f"round {r + 1} {name:8s} {rps:8.0f} req/s  user {(u1 - u0) * tick_us / n:4.1f} us  "
                      f"system {(s1 - s0) * tick_us / n:4.1f} us per request  "
                      f"involuntary switches {(c1 - c0) / n:.2f} per request", flush=True)
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.wait(10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
