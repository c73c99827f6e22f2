"""The fake app as a real process, targets and configs: shared by the check and analysis tests."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from turnout import config
from turnout.checks.base import Target
from turnout.config import CheckConfig, Config
from turnout.infra.procs import free_port
from turnout.model import Color, Endpoint, Release

FAKEAPP = Path(__file__).with_name("fakeapp.py")


@dataclass
class App:
    proc: subprocess.Popen[str]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fault(self, **fault: Any) -> None:
        """Switch faults on the running process (POST /admin/fault)."""
        req = urllib.request.Request(f"{self.url}/admin/fault", data=json.dumps(fault).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=5)


def start_fakeapp(*args: str) -> App:
    """`python fakeapp.py --port 0 ARGS` on loopback; returns once it listens."""
    proc = subprocess.Popen([sys.executable, str(FAKEAPP), "--port", "0", *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"fake app did not start: {line!r}")
    return App(proc, int(line.split()[-1]))


def refused_port() -> int:
    """A loopback port nobody listens on, outside the ephemeral range (no connect() to itself)."""
    return free_port()


def target_for(app: App, baseline: App | None = None, *, endpoints: bool = True, pids: tuple[int, ...] = ()) -> Target:
    return Target(url=app.url, color=Color.GREEN, release=Release("v2"),
                  baseline_url=baseline.url if baseline is not None else "",
                  endpoints=(Endpoint("127.0.0.1", app.port),) if endpoints else (), pids=pids)


def target_at(url: str) -> Target:
    """A target at a bare URL (e.g. one nobody listens on), without instances."""
    return Target(url=url, color=Color.GREEN, release=Release("v2"))


def check_config(toml_entry: str) -> tuple[CheckConfig, Config]:
    """The first [[checks]] entry of a minimal turnout.toml, and the whole config."""
    cfg = config.parse(f'[app]\nname = "t"\n\n[[checks]]\n{toml_entry}\n')
    return cfg.checks[0], cfg
