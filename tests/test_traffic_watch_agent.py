"""The watch on real user traffic, end to end: the agent, the builtin proxy and the example app."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.control.client import AgentClient

from .agent_helpers import history, load, status, turnout
from .conftest import write_config


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    turnout(tmp_path, "down", timeout=60)


def judgements(project: Path, action: str, outcome: str) -> dict[str, str]:
    event = next(e for e in reversed(history(project)) if (e["action"], e["outcome"]) == (action, outcome))
    evidence = event.get("evidence", [])
    return {e["measurement"]["check"]: e["measurement"]["verdict"] for e in evidence if e["kind"] == "measurement"}


def test_one_request_a_second_for_the_whole_watch_is_no_rollback(project: Path) -> None:
    """Flagger's false rollbacks at low traffic (fluxcd/flagger#1035, #1098): one user request a
    second for the whole 20 s watch, and no rollback."""
    write_config(project, '[stabilize]\nwindow = "20s"\ninterval = "250ms"\nbaseline = "1s"\n')
    assert turnout(project, "up", "--detach", "--version", "1.0").returncode == 0
    url = status(project)["router"]["production_url"]
    with load(url, "/", pause=1.0) as users:
        res = turnout(project, "deploy", "2.0", timeout=120)
    assert res.returncode == 0, res.stderr
    assert users.failed == [] and users.ok >= 15, (users.ok, users.failed[:3])
    seen = judgements(project, "stabilize", "ok")
    # the router's counters were judged too (the probes' own requests pass the production listener
    # and count there; windows with too few requests are inconclusive: tests/test_watch_traffic.py)
    assert seen.get("traffic.error_rate") in {"pass", "inconclusive"} and "traffic.latency" in seen, seen
    st = status(project)
    assert st["environments"][st["active"]]["version"] == "2.0"


def test_failing_user_requests_roll_back_while_the_probes_see_nothing(project: Path) -> None:
    """The probes ask a path the release still answers; only users get the 500s. The router's
    counters of their requests fire the rollback."""
    write_config(project, '[stabilize]\nwindow = "20s"\ninterval = "250ms"\nbaseline = "1s"\n'
                          '[stabilize.probe]\npath = "/health/ready"\n')
    assert turnout(project, "up", "--detach", "--version", "1.0").returncode == 0
    url = status(project)["router"]["production_url"]
    with load(url, "/", pause=0.005) as users:
        res = turnout(project, "deploy", "2.0+fail-after-2", timeout=120)
    assert res.returncode == 12, res.stderr  # rolled back automatically
    assert "user traffic" in res.stderr, res.stderr
    trigger = next(ev for e in history(project) for ev in e.get("evidence", []) if ev["kind"] == "trigger")
    assert "(user traffic)" in trigger["reason"], trigger
    assert users.failed, "the release did fail user requests"


def test_the_agent_records_traffic_per_color_every_second(project: Path) -> None:
    write_config(project)
    assert turnout(project, "up", "--detach", "--version", "1.0").returncode == 0
    started = time.time()
    url = status(project)["router"]["production_url"]
    with load(url, "/", pause=0.01) as users:
        time.sleep(3)
    client = AgentClient(project / ".turnout", "shop")
    points = client.traffic(started)
    blue = [p for p in points if p["color"] == "blue"]
    assert len(blue) >= 2 and all(0.5 < p["seconds"] < 2 for p in blue), points
    assert sum(p["requests"] for p in blue) >= users.ok * 0.5 and all(p["weight"] == 100 for p in blue)
    assert any(p["p99"] is not None and p["p99"] < 1 for p in blue)
    assert all(p["requests"] == 0 and p["weight"] == 0 for p in points if p["color"] == "green")
