"""Where one builtin proxy worker spends its time under load: py-spy samples it while wrk runs.

    pip install py-spy
    python benchmarks/profile_proxy.py [--seconds 10] [--workload tiny|big|upload|close] [--native]

One nginx backend and the proxy pinned to CPU 0, wrk to CPU 1 (as in benchmarks/routers.py). Prints the
functions with the most samples on-CPU (self) and the share of samples under each (inclusive), from py-spy's
collapsed stacks; `--native` adds C frames (uvloop, httptools, the kernel boundary).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from turnout.infra.procs import free_port

HERE = Path(__file__).resolve().parent
WORKLOADS = {"tiny": ("/", 50, [], {}), "big": ("/1m", 10, [], {}),
             "upload": ("/upload", 10, [], {"UPLOAD": "1048576"}),
             "close": ("/", 50, ["-H", "Connection: close"], {})}


def wait_port(port: int) -> None:
    for _ in range(250):
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {port}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--workload", default="tiny", choices=WORKLOADS)
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="turnout-profile-"))
    os.chmod(d, 0o755)  # nginx workers run as nobody
    blue, prod, test, adm = free_port(), free_port(), free_port(), free_port()
    (d / "1m.bin").write_bytes(os.urandom(1 << 20))
    (d / "nginx.conf").write_text(f"""daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/nginx.err;
events {{ worker_connections 4096; }}
http {{ access_log off; keepalive_requests 1000000; client_body_temp_path {d}/b;
  server {{ listen 127.0.0.1:{blue}; location / {{ return 200 "blue\\n"; }}
           location = /1m {{ alias {d}/1m.bin; }}
           location = /upload {{ client_max_body_size 2m; return 200 "ok\\n"; }} }} }}
""")
    (d / "token").write_text("prof")
    procs = [subprocess.Popen(["taskset", "-c", "0", "nginx", "-p", str(d), "-c", str(d / "nginx.conf")]),
             subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "turnout.proxy", "--production",
                               f"127.0.0.1:{prod}", "--test", f"127.0.0.1:{test}", "--admin", f"127.0.0.1:{adm}",
                               "--token-file", str(d / "token"), "--state-file", str(d / "state.json")])]
    try:
        for port in (blue, prod, adm):
            wait_port(port)
        req = urllib.request.Request(f"http://127.0.0.1:{adm}/backends", method="PUT",
                                     headers={"Authorization": "Bearer prof"},
                                     data=json.dumps({"blue": [f"127.0.0.1:{blue}"], "green": []}).encode())
        urllib.request.urlopen(req, timeout=5).read()
        path, conns, extra, env = WORKLOADS[args.workload]
        load = subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{args.seconds + 2}s", *extra,
                                 "-s", str(HERE / "summary.lua"), f"http://127.0.0.1:{prod}{path}"],
                                stdout=subprocess.PIPE, text=True, env={**os.environ, **env})
        time.sleep(1)
        raw = d / "stacks.txt"
        spy = ["py-spy", "record", "--format", "raw", "-r", "500", "-d", str(args.seconds), "-o", str(raw),
               "-p", str(procs[1].pid), *(["--native"] if args.native else [])]
        subprocess.run(spy, check=True, capture_output=True, timeout=args.seconds + 60)
        out, _ = load.communicate(timeout=60)
        print(next((x for x in out.splitlines() if x.startswith("SUMMARY_JSON")), out[-300:]))
        self_n: collections.Counter[str] = collections.Counter()
        incl: collections.Counter[str] = collections.Counter()
        total = 0
        for line in raw.read_text().splitlines():
            stack, _, n = line.rpartition(" ")
            frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")"
                      if " (" in f else f for f in stack.split(";")]
            total += int(n)
            self_n[frames[-1]] += int(n)
            for f in set(frames):
                incl[f] += int(n)
        print(f"\n{total} samples; self (on top of the stack):")
        for f, k in self_n.most_common(args.top):
            print(f"  {100 * k / total:5.1f}%  {f}")
        print("\ninclusive:")
        for f, k in incl.most_common(args.top):
            print(f"  {100 * k / total:5.1f}%  {f}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
