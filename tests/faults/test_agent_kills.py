"""SIGKILL of the agent at every phase boundary of a deploy (failpoints), under keep-alive load: the
next agent finishes or undoes what was cut short, production never fails a request, and no operation
is lost (it ends with a verdict that says what happened, or goes on)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent_helpers import history, load, status, turnout, wait_for
from tests.conftest import write_config

WATCH = '[stabilize]\nwindow = "3s"\ninterval = "100ms"\nbaseline = "300ms"\n'


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    turnout(tmp_path, "down", timeout=60)


def operation(project: Path) -> dict[str, str]:
    res = turnout(project, "ops")
    assert res.returncode == 0, res.stderr
    first = res.stdout.splitlines()[0].split()
    return {"id": first[0], "state": first[4], "step": first[5]}


# (failpoint, what the next agent must end with: the live color, the op's state)
CUTS = [
    ("deploy:started", "blue", "aborted"),  # intent saved, nothing started
    ("validate:started", "blue", "aborted"),  # green running, not yet checked
    ("validate:ok", "blue", "aborted"),  # green checked, not switched
    ("step:baseline", "blue", "aborted"),  # measuring blue before the switch
    ("switch:started", "blue", "aborted"),  # switch intent saved, router untouched: undone
    ("switch:ok", "green", "succeeded"),  # router switched and state saved: the watch goes on, then done
]


@pytest.mark.parametrize(("cut", "live", "op_state"), CUTS, ids=[c[0] for c in CUTS])
def test_a_kill_at_every_phase_boundary(project: Path, cut: str, live: str, op_state: str) -> None:
    write_config(project, WATCH)
    res = turnout(project, "up", "--detach", "--version", "1.0", env={"TURNOUT_FAILPOINTS": cut})
    assert res.returncode == 0, res.stderr
    prod = status(project)["router"]["production_url"]
    with load(prod) as traffic:
        res = turnout(project, "deploy", "2.0")
        assert res.returncode == 10, res.stderr  # the agent died under it
        assert not status(project)["agent"]["running"]
        up = turnout(project, "up", "--detach")  # no failpoint this time
        assert up.returncode == 0, up.stderr
        wait_for("the operation to end", lambda: operation(project)["state"] != "running", 30)
    assert traffic.failed == [], traffic.failed[:5]
    st = status(project)
    assert st["active"] == live and st["router"]["serving"][live] == 100
    assert st["environments"][live]["healthy"] == 2
    op = operation(project)
    assert op["state"] == op_state, op
    assert turnout(project, "history", "--verify").returncode == 0
    if op_state == "aborted":
        assert any(e["action"] == "resume" for e in history(project))


def test_a_kill_when_the_watch_starts_then_the_release_breaks(project: Path) -> None:
    write_config(project, WATCH.replace('window = "3s"', 'window = "30s"'))
    res = turnout(project, "up", "--detach", "--version", "1.0", env={"TURNOUT_FAILPOINTS": "step:watching"})
    assert res.returncode == 0, res.stderr
    assert turnout(project, "deploy", "2.0+fail-after-8").returncode == 10
    assert turnout(project, "up", "--detach").returncode == 0
    wait_for("the resumed watch to roll it back", lambda: status(project)["active"] == "blue", 40)
    assert operation(project)["state"] == "rolled_back"
    assert status(project)["bad"] == ["2.0+fail-after-8"]
