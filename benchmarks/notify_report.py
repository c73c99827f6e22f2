"""What notifications and deploy reports cost, measured on this machine (figures in docs/operators.md).

    queue       the journal's cost of one event to one target (`Notifier.event`), µs
    deliver     events delivered to a loopback receiver per format: throughput and per-delivery latency
    deploy      `turnout deploy 2.0` through the agent, without notify targets and with a receiver that
                hangs and one that refuses connections (timeout 2 s, 2 retries): medians of --deploys runs
    report      `turnout report` of that deploy as json, png and html: wall time of the command, size

    python benchmarks/notify_report.py [--events 500] [--deploys 3] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from turnout.events import AuditEvent, Checked, to_builtins
from turnout.infra.procs import free_port
from turnout.model import Color, Measurement, Verdict
from turnout.notify import Notifier
from turnout.notify.targets import Target

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "src" / "turnout" / "examples" / "app.py"
TURNOUT = [sys.executable, "-m", "turnout.cli"]
FORMATS = ("json", "slack", "msteams", "discord", "googlechat")
EVENT = {"event": "validate:ok", **to_builtins(AuditEvent(
    app="shop", action="validate", outcome="ok", actor="bench", at=time.time(), to_color=Color.GREEN,
    versions={"blue": "1.0", "green": "2.0"}, reason="3 checks passed",
    evidence=tuple(Checked(measurement=Measurement(f"check-{i}", Verdict.PASS, 0.01 * i, "fine")) for i in range(3)),
    id=1)), "active": "blue"}


@contextmanager
def receiver() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the services are

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


async def deliver(fmt: str, url: str, events: int) -> dict[str, Any]:
    notifier = Notifier([Target(url, format=fmt, name=fmt, queue=events, secret=b"bench")])
    started = time.perf_counter()
    for _ in range(events):
        notifier.event(EVENT)
    queued = time.perf_counter() - started
    await notifier.flush(120)
    took = time.perf_counter() - started
    latencies = sorted(r.latency_ms for r in notifier.recent)
    return {"format": fmt, "events": events, "delivered": sum(r.outcome == "delivered" for r in notifier.recent),
            "queue_us_per_event": round(queued / events * 1e6, 1), "per_s": round(events / took),
            "latency_p50_ms": round(statistics.median(latencies), 2),
            "latency_p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 2)}


def turnout(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TURNOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=180, check=False,
                          env=env)


def config(folder: Path, extra: str = "") -> None:
    command = json.dumps([sys.executable, str(APP), "--port", "{port}", "--version", "{version}", "--color",
                          "{color}"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "turnout.toml").write_text(f"""
[app]
name = "bench"
[runtime]
command = {command}
instances = 2
[stabilize]
window = "0s"
[health]
successes = 2
interval = "50ms"
[router]
production = "127.0.0.1:{free_port()}"
test = "127.0.0.1:{free_port()}"
admin = "127.0.0.1:{free_port()}"
drain = "2s"
{extra}
""")


def deploy_once(folder: Path, report: bool) -> dict[str, Any]:
    assert turnout(folder, "up", "--detach", "--version", "1.0").returncode == 0
    try:
        started = time.perf_counter()
        res = turnout(folder, "deploy", "2.0")
        out = {"deploy_s": time.perf_counter() - started}
        assert res.returncode == 0, res.stderr
        if report:
            time.sleep(2.0)
            for fmt in ("json", "png", "html"):
                target = folder / f"r.{fmt}"
                started = time.perf_counter()
                assert turnout(folder, "report", "--format", fmt, "-o", str(target)).returncode == 0
                out[f"report_{fmt}_ms"] = (time.perf_counter() - started) * 1000
                out[f"report_{fmt}_bytes"] = target.stat().st_size
        return out
    finally:
        started = time.perf_counter()
        turnout(folder, "down")
        out["down_s"] = time.perf_counter() - started


def deploys(runs: int) -> dict[str, Any]:
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    dead = (f'[[notify]]\nname = "hang"\nurl = "http://127.0.0.1:{hole.getsockname()[1]}/"\ntimeout = "2s"\n'
            f'retries = 2\n[[notify]]\nname = "refused"\nurl = "http://127.0.0.1:{free_port()}/"\ntimeout = "2s"\n'
            "retries = 2\n")
    base = Path(tempfile.mkdtemp(prefix="turnout-bench-notify-"))
    plain: list[dict[str, Any]] = []
    noisy: list[dict[str, Any]] = []
    try:
        for i in range(runs):  # alternated, so a busy moment of the machine hits both alike
            config(base / f"plain{i}")
            plain.append(deploy_once(base / f"plain{i}", report=i == 0))
            config(base / f"noisy{i}", dead)
            noisy.append(deploy_once(base / f"noisy{i}", report=False))
    finally:
        hole.close()
        shutil.rmtree(base, ignore_errors=True)
    med = statistics.median
    return {"runs": runs, "deploy_s_without_targets": round(med(r["deploy_s"] for r in plain), 2),
            "deploy_s_with_dead_targets": round(med(r["deploy_s"] for r in noisy), 2),
            "down_s_without_targets": round(med(r["down_s"] for r in plain), 2),
            "down_s_with_dead_targets": round(med(r["down_s"] for r in noisy), 2),
            **{k: round(v) for k, v in plain[0].items() if k.startswith("report_")}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--deploys", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with receiver() as url:
        delivered = [asyncio.run(deliver(fmt, url, args.events)) for fmt in FORMATS]
    result = {"deliver": delivered, "deploy": deploys(args.deploys) if args.deploys else None}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for d in delivered:
        print(f"{d['format']:<10} queue {d['queue_us_per_event']:>6} µs/event  {d['per_s']:>5} deliveries/s  "
              f"latency p50 {d['latency_p50_ms']} ms p99 {d['latency_p99_ms']} ms ({d['delivered']}/{d['events']})")
    if result["deploy"]:
        print(json.dumps(result["deploy"], indent=2))


if __name__ == "__main__":
    main()
