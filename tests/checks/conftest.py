"""Fixtures: real app processes on free loopback ports, each owned and stopped by its fixture."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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


def _start(*args: str) -> App:
    proc = subprocess.Popen([sys.executable, str(FAKEAPP), "--port", "0", *args],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError(f"fake app did not start: {line!r}")
    return App(proc, int(line.split()[-1]))


@pytest.fixture
def start_app() -> Iterator[Callable[..., App]]:
    """start_app('--color', 'blue', ...) -> App; every app started is stopped at teardown."""
    apps: list[App] = []

    def start(*args: str) -> App:
        app = _start(*args)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()


@pytest.fixture
def app(start_app: Callable[..., App]) -> App:
    return start_app("--color", "blue", "--version", "v1")


@pytest.fixture
def refused_url() -> str:
    """A loopback URL nobody listens on: bind a port, then free it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
