"""Drift made by hand on every router turnout owns, behind the agent's back: the reconcile loop puts
the stored split back within 2 s, and says so in the audit log."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.agent_helpers import history, load, status, turnout, wait_for
from tests.conftest import write_config
from turnout import config, plugins
from turnout.model import Weights
from turnout.testing import router_from_config


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    turnout(tmp_path, "down", timeout=60)


def driver(project: Path) -> Any:
    """A second driver of the project's router, beside the agent's (it finds the same process)."""
    cfg = config.load(project / "turnout.toml")
    return router_from_config(plugins.load("routers", cfg.router.kind, key=("router", "kind")), cfg)


def by_hand(project: Path, weights: Weights) -> None:
    """Someone points the router elsewhere with its own admin interface (a second driver, attached)."""
    router = driver(project)

    async def go() -> None:
        await router.route(weights)
        assert (await router.observe()).weights == weights  # the drift is real

    asyncio.run(go())


@pytest.mark.parametrize("router", ["builtin", "haproxy", "nginx", "envoy"])
def test_drift_by_hand_is_repaired_within_2s(project: Path, router: str) -> None:
    write_config(project, router=router)
    assert turnout(project, "up", "--detach", "--version", "1.0").returncode == 0
    assert turnout(project, "deploy", "2.0").returncode == 0
    assert status(project)["router"]["serving"] == {"blue": 0, "green": 100}
    by_hand(project, Weights(100, 0))
    started = time.monotonic()
    while status(project)["router"]["serving"] != {"blue": 0, "green": 100}:
        assert time.monotonic() - started < 2.0, "the drift was not repaired within 2 s"
        time.sleep(0.05)
    repaired = [e for e in history(project) if e["action"] == "reconcile" and e["outcome"] == "repaired"]
    assert repaired and "the router serves {'blue': 100, 'green': 0}" in repaired[-1]["reason"]


@pytest.mark.parametrize("router", ["builtin", "haproxy", "nginx", "envoy"])
def test_a_rollback_typed_while_the_router_is_dead_brings_it_back_and_rolls_back(project: Path, router: str) -> None:
    write_config(project, router=router)
    assert turnout(project, "up", "--detach", "--version", "1.0").returncode == 0
    assert turnout(project, "deploy", "2.0").returncode == 0
    pid = driver(project).pid
    assert pid
    os.killpg(pid, signal.SIGKILL)  # the router and its workers, without a chance to clean up
    started = time.monotonic()
    res = turnout(project, "rollback")  # at once: before the reconcile loop's next look
    took = time.monotonic() - started
    assert res.returncode == 0, res.stderr
    st = status(project)
    assert st["active"] == "blue" and st["router"]["serving"] == {"blue": 100, "green": 0}
    answer = httpx.get(st["router"]["production_url"] + "/version", timeout=5)
    assert answer.json()["version"] == "1.0"
    revived = [e for e in history(project) if e["action"] == "reconcile" and e["outcome"] == "repaired"]
    assert revived, "the router's restart is in the audit log"
    print(f"\n{router}: rollback with the router dead took {took * 1000:.0f} ms (CLI included)")


@pytest.mark.parametrize("router", ["builtin", "haproxy"])
def test_a_router_killed_during_the_watch_is_revived_and_the_release_is_not_blamed(project: Path, router: str) -> None:
    write_config(project, '[stabilize]\nwindow = "8s"\ninterval = "100ms"\nbaseline = "500ms"\n', router=router)
    assert turnout(project, "up", "--detach", "--version", "1.0").returncode == 0
    assert turnout(project, "deploy", "2.0", "--detach").returncode == 0
    wait_for("the watch", lambda: (status(project).get("operation") or {}).get("step") == "watching", 30)
    pid = driver(project).pid
    assert pid
    os.killpg(pid, signal.SIGKILL)
    wait_for("the watch to end", lambda: status(project).get("operation") is None, 40)
    st = status(project)
    assert st["active"] == "green" and st["router"]["serving"] == {"blue": 0, "green": 100}, st
    assert "2.0" not in st.get("bad", []), st
    events = history(project)
    assert not [e for e in events if e["action"] == "rollback"], "the release was rolled back for the router's death"
    assert [e for e in events if e["action"] == "reconcile" and e["outcome"] == "repaired"]
    assert any(e["action"] == "stabilize" and e["outcome"] == "ok" for e in events)


# the files each owned router restarts from: damaged ones are set aside and written again from the split the
# driver last saw; the rest of its config is generated anew
STATE_FILES = {"builtin": ["proxy-state.json"], "haproxy": ["turnout-weights.map", "turnout-test.map"],
               "nginx": ["state.txt"], "envoy": ["rds-production.json", "rds-test.json"]}


@pytest.mark.parametrize("router", list(STATE_FILES))
def test_a_router_killed_with_its_state_damaged_comes_back_serving_the_live_color(project: Path, router: str) -> None:
    write_config(project, router=router)
    assert turnout(project, "up", "--detach", "--version", "1.0").returncode == 0
    assert turnout(project, "deploy", "2.0").returncode == 0
    owned = driver(project)
    url = status(project)["router"]["production_url"]
    with load(url, pause=0.001) as traffic:
        time.sleep(0.3)
        os.killpg(owned.pid, signal.SIGKILL)
        for name in STATE_FILES[router]:
            (owned.folder / name).write_bytes(b'{"weights": 7} green=\xff\x00')  # what a disk fault might leave
        wait_for("production to fail", lambda: traffic.failed, 10)
        down = traffic.versions.get("2.0", 0)
        wait_for("production to answer again", lambda: traffic.versions.get("2.0", 0) > down + 20, 20)
        before = dict(traffic.versions)
        time.sleep(0.5)
    # started again without its routes: never the old color meanwhile
    assert traffic.versions.get("1.0", 0) == 0, traffic.versions
    assert traffic.versions["2.0"] > before["2.0"]
    for name in STATE_FILES[router]:  # kept for a look
        assert [p.read_bytes() for p in owned.folder.glob(f"{name}.damaged-*")] == [b'{"weights": 7} green=\xff\x00']
    assert status(project)["router"]["serving"] == {"blue": 0, "green": 100}
    repaired = [e for e in history(project) if e["action"] == "reconcile" and e["outcome"] == "repaired"]
    assert any("prepared again" in e["reason"] for e in repaired), repaired
