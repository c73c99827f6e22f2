"""Instances killed under load: wrk through the builtin proxy while one of two blue instances is SIGKILLed and
restarted, 20 times. Goal (issue 11): 0 failed idempotent requests.

    python benchmarks/proxy_kill.py [--kills 20] [--connections 50] [--seed 1]

Two nginx instances (one worker each, own process group) answer `blue\\n`; the proxy has both as the blue
color. Each round: kill -9 one instance's process group, leave it down 0.7-2.3 s (the restart times seen in
issue 11), start it again, wait until it listens, wait 0.5 s, then the other instance's turn; so one instance
is always up. wrk (GET, keep-alive, colors.lua) runs the whole time; failed = socket errors + answers whose
body is not `blue\\n` (every non-200 here is one of those). Pinned as benchmarks/routers.py: servers on
CPU 0, wrk on CPU 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from turnout.infra.procs import free_port

HERE = Path(__file__).resolve().parent


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.1).close()
        return True
    except OSError:
        return False


class Instance:
    def __init__(self, folder: Path, name: str) -> None:
        self.dir = folder / name
        self.dir.mkdir()
        self.port = free_port()
        (self.dir / "nginx.conf").write_text(
            f"daemon off; worker_processes 1; pid {self.dir}/nginx.pid; error_log {self.dir}/err;\n"
            f"events {{ worker_connections 4096; }}\n"
            f"http {{ access_log off; keepalive_requests 1000000; client_body_temp_path {self.dir}/b;\n"
            f"  server {{ listen 127.0.0.1:{self.port}; location / {{ return 200 \"blue\\n\"; }} }} }}\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["taskset", "-c", "0", "nginx", "-p", str(self.dir), "-c",
                                      str(self.dir / "nginx.conf")], start_new_session=True,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not listening(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"instance on {self.port} did not start")
            time.sleep(0.01)

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    d = Path(tempfile.mkdtemp(prefix="turnout-kill-"))
    instances = [Instance(d, "b1"), Instance(d, "b2")]
    prod, test, adm = free_port(), free_port(), free_port()
    (d / "token").write_text("kill")
    proxy = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-m", "turnout.proxy", "--production",
                              f"127.0.0.1:{prod}", "--test", f"127.0.0.1:{test}", "--admin", f"127.0.0.1:{adm}",
                              "--token-file", str(d / "token"), "--state-file", str(d / "state.json"),
                              "--log-file", str(d / "proxy.log")])
    load: subprocess.Popen[str] | None = None
    try:
        for i in instances:
            i.start()
        while not listening(adm):
            time.sleep(0.02)
        req = urllib.request.Request(
            f"http://127.0.0.1:{adm}/backends", method="PUT", headers={"Authorization": "Bearer kill"},
            data=json.dumps({"blue": [f"127.0.0.1:{i.port}" for i in instances], "green": []}).encode())
        urllib.request.urlopen(req, timeout=5).read()
        downs = [rng.uniform(0.7, 2.3) for _ in range(args.kills)]
        seconds = int(sum(downs) + args.kills * 0.7 + 4)
        load = subprocess.Popen(["taskset", "-c", "1", "wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s",
                                 "-s", str(HERE / "colors.lua"), f"http://127.0.0.1:{prod}/"],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        t0 = time.monotonic()
        for k, down in enumerate(downs):
            victim = instances[k % 2]
            victim.kill()
            time.sleep(down)
            victim.start()
            time.sleep(0.5)
        killed_for = time.monotonic() - t0
        out, _ = load.communicate(timeout=seconds + 30)
        line = next(x for x in out.splitlines() if x.startswith("COLORS_JSON "))
        r = json.loads(line.removeprefix("COLORS_JSON "))
        e = r["errors"]
        # every bad answer has a body other than blue\n (the proxy's 502 text included): count each once
        failed = e["connect"] + e["read"] + e["write"] + e["timeout"] + r["other"]
        print(json.dumps({"kills": args.kills, "down_s": [round(x, 2) for x in downs], "requests": r["requests"],
                          "failed": failed, "errors": e, "non200": r["non200"], "other_bodies": r["other"],
                          "kill_phase_s": round(killed_for, 1), "wrk_s": seconds}))
    finally:
        if load is not None and load.poll() is None:
            load.kill()
        proxy.terminate()
        proxy.wait(10)
        for i in instances:
            if i.proc is not None and i.proc.poll() is None:
                i.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
