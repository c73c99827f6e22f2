"""A real agent with its HTTP API on a free loopback port, a viewer and an operator token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from turnout.infra.procs import free_port

from ..agent_helpers import status, turnout
from ..conftest import write_config


@dataclass
class ApiStack:
    folder: Path
    url: str  # http://127.0.0.1:PORT of the API and dashboard
    viewer: str
    operator: str

    def production(self) -> str:
        found: str = status(self.folder)["router"]["production_url"]
        return found


def token(folder: Path, role: str, name: str) -> str:
    res = turnout(folder, "token", "create", "--role", role, "--name", name)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


@pytest.fixture
def api_stack(tmp_path: Path) -> Iterator[ApiStack]:
    yield from _stack(tmp_path)


@pytest.fixture(scope="module")
def shared_api_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiStack]:
    """One agent for a whole module (the fuzzer's many requests)."""
    yield from _stack(tmp_path_factory.mktemp("api"))


def _stack(tmp_path: Path) -> Iterator[ApiStack]:
    port = free_port()
    write_config(tmp_path, f'[api]\nlisten = "127.0.0.1:{port}"\n'
                           '[alerts]\nmatch = { app = "shop", severity = "page" }\n')
    res = turnout(tmp_path, "up", "--detach", "--version", "1.0")
    assert res.returncode == 0, res.stderr
    try:
        yield ApiStack(tmp_path, f"http://127.0.0.1:{port}", token(tmp_path, "viewer", "board"),
                       token(tmp_path, "operator", "ci"))
    finally:
        turnout(tmp_path, "down", timeout=60)
