"""`turnout logs COLOR [--follow]` (through the agent, and without one) and `turnout status --watch`."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .agent_helpers import TURNOUT, spawn, turnout, wait_for
from .conftest import write_config


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    write_config(tmp_path)
    assert turnout(tmp_path, "up", "--detach", "--version", "1.0").returncode == 0
    yield tmp_path
    turnout(tmp_path, "down", timeout=60)


def test_logs_of_a_color_through_the_agent_and_without_it(project: Path) -> None:
    res = turnout(project, "logs", "blue", "-n", "20")
    assert res.returncode == 0, res.stderr
    assert "version=1.0 color=blue" in res.stdout and res.stdout.startswith("blue-")
    assert turnout(project, "logs", "green").stdout == ""  # nothing ran there yet
    assert turnout(project, "logs", "purple").returncode == 2
    assert turnout(project, "down").returncode == 0
    offline = turnout(project, "logs", "blue", "-n", "20")  # the files outlive the agent
    assert offline.returncode == 0 and "version=1.0 color=blue" in offline.stdout


def test_logs_follow_shows_a_deploy_starting(project: Path) -> None:
    follower = subprocess.Popen([*TURNOUT, "logs", "green", "--follow", "-n", "0"], cwd=project,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        assert turnout(project, "deploy", "2.0").returncode == 0
        seen: list[str] = []

        def started() -> bool:
            assert follower.stdout is not None
            seen.append(follower.stdout.readline())
            return "version=2.0 color=green" in seen[-1]

        wait_for("green's start in the followed log", started, timeout=20, every=0)
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(10)


def test_status_watch_streams_json(project: Path) -> None:
    watcher = spawn(project, "status", "--watch", "--json", "--interval", "0.2")
    try:
        assert watcher.stdout is not None
        views = [json.loads(watcher.stdout.readline()) for _ in range(3)]
        assert all(v["active"] == "blue" and v["agent"]["running"] for v in views)
    finally:
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(10) == 0  # Ctrl-C ends a watch normally
