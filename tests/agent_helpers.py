"""Driving the real CLI and agent from tests: run commands, read status, wait for a condition, send load."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TURNOUT = [sys.executable, "-m", "turnout.cli"]


def turnout(cwd: Path, *args: str, timeout: float = 120, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TURNOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


def spawn(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*TURNOUT, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def status(cwd: Path) -> dict[str, Any]:
    res = turnout(cwd, "status", "--json")
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def history(cwd: Path) -> list[dict[str, Any]]:
    res = turnout(cwd, "history", "--json", "--limit", "500")
    assert res.returncode == 0, res.stderr
    events: list[dict[str, Any]] = json.loads(res.stdout)
    return events


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


def agent_pid(cwd: Path) -> int:
    return int((cwd / ".turnout" / "agent.pid").read_text())


def kill_agent(cwd: Path) -> None:
    pid = agent_pid(cwd)
    os.kill(pid, signal.SIGKILL)
    wait_for("the agent to be gone", lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), 10)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] in ("Z", "X")
    except OSError:
        return True


def version_at(url: str) -> str:
    answer: str = httpx.get(url + "/version", timeout=5).json()["version"]
    return answer


@dataclass
class Load:
    """Keep-alive requests to a URL from a thread until stopped: every answer counted."""

    url: str
    path: str = "/version"  # the example app never faults /version; "/" it does
    pause: float = 0.002  # between requests of the one connection
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self.stop.is_set():
                try:
                    r = client.get(self.url + self.path)
                    if r.status_code == 200:
                        self.ok += 1
                        if self.path == "/version":
                            v = r.json()["version"]
                            self.versions[v] = self.versions.get(v, 0) + 1
                    else:
                        self.failed.append(f"HTTP {r.status_code}")
                except httpx.HTTPError as exc:
                    self.failed.append(repr(exc))
                self.stop.wait(self.pause)


@contextmanager
def load(url: str, path: str = "/version", pause: float = 0.002) -> Iterator[Load]:
    traffic = Load(url, path, pause)
    thread = threading.Thread(target=traffic.run, daemon=True)
    thread.start()
    try:
        yield traffic
    finally:
        traffic.stop.set()
        thread.join(10)
