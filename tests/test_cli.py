"""The CLI end to end: agent up/down, deploy, status/history JSON, exit codes, crash recovery, demo."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import write_config

TURNOUT = [sys.executable, "-m", "turnout.cli"]


def turnout(cwd: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TURNOUT, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def status(cwd: Path) -> dict[str, Any]:
    res = turnout(cwd, "status", "--json")
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


@pytest.fixture
def project(tmp_path: Path) -> Any:
    yield tmp_path
    turnout(tmp_path, "down", timeout=60)


def test_init_and_check_config(tmp_path: Path) -> None:
    res = turnout(tmp_path, "init", "--name", "web")
    assert res.returncode == 0, res.stderr
    assert "[app]" in (tmp_path / "turnout.toml").read_text()
    assert turnout(tmp_path, "init").returncode == 2  # exists already
    res = turnout(tmp_path, "check-config")
    assert res.returncode == 0 and "ok" in res.stdout


def test_config_error_is_one_line_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "turnout.toml").write_text("[app]\nname = 'x'\n[router]\nkind = 'carrier-pigeon'\n")
    res = turnout(tmp_path, "check-config")
    assert res.returncode == 2
    assert "router.kind: unknown router 'carrier-pigeon'" in res.stderr
    assert "Traceback" not in res.stderr


def test_misuse_and_missing_agent(tmp_path: Path) -> None:
    write_config(tmp_path)
    assert turnout(tmp_path, "switch", "--to", "purple").returncode == 2
    res = turnout(tmp_path, "deploy", "2.0")
    assert res.returncode == 10 and "agent for shop is not running" in res.stderr
    res = turnout(tmp_path, "up", "--detach")  # nothing deployed and no --version
    assert res.returncode == 2 and "--version" in res.stderr  # the agent's own usage error
    for misuse in (["deploy", "bad version!"], ["deploy", ""], ["up", "--version", "-x"], ["history", "--limit", "0"],
                   ["history", "--limit", "-1"],
                   *(["deploy", "2.0", "--steps", s] for s in ("100,50", "0", "5,5", "150"))):  # before any agent
        res = turnout(tmp_path, *misuse)
        assert res.returncode == 2 and "Invalid value" in res.stderr and "not running" not in res.stderr, misuse


def test_up_deploy_status_history_down(project: Path) -> None:
    write_config(project)
    res = turnout(project, "up", "--detach", "--version", "1.0")
    assert res.returncode == 0, res.stderr
    st = status(project)
    assert (st["active"], st["idle"], st["phase"]) == ("blue", "green", "initial")
    assert st["environments"]["blue"] == {**st["environments"]["blue"], "version": "1.0", "instances": 2,
                                          "healthy": 2}
    assert st["router"]["kind"] == "builtin" and st["router"]["serving"] == {"blue": 100, "green": 0}
    text = turnout(project, "status").stdout  # the table: nothing on green yet reads "-", not "None"
    assert "None" not in text and "False" not in text and re.search(r"green\s+│ -\s+│ -\s+│ 0", text), text
    res = turnout(project, "deploy", "2.0")
    assert res.returncode == 0, res.stderr
    assert "readiness" in res.stderr and "2.0: live on green" in res.stdout
    st = status(project)
    assert st["active"] == "green" and st["router"]["serving"] == {"blue": 0, "green": 100}
    assert httpx.get(st["router"]["production_url"] + "/version").json()["version"] == "2.0"
    assert turnout(project, "rollback", "--reason", "test").returncode == 0
    assert status(project)["active"] == "blue"
    assert turnout(project, "switch").returncode == 0
    res = turnout(project, "deploy", "3.0+broken")  # replaces blue, the rollback target, and fails
    assert res.returncode == 4 and "check readiness fail" in res.stderr
    st = status(project)
    assert st["active"] == "green" and st["environments"]["blue"]["instances"] == 0
    res = turnout(project, "rollback")
    assert res.returncode == 6 and "blue runs no release" in res.stderr and "turnout deploy" in res.stderr
    events = json.loads(turnout(project, "history", "--json").stdout)
    assert [e["action"] for e in events if e["outcome"] == "ok"][-2:] == ["rollback", "switch"]
    assert [e["outcome"] for e in events][-1] == "refused"
    assert all({"at", "actor", "action", "outcome", "from", "to", "versions", "reason"} <= e.keys() for e in events)
    assert turnout(project, "down").returncode == 0
    assert status(project)["agent"]["running"] is False


def test_sigkill_agent_mid_deploy_then_status_and_recovery(project: Path) -> None:
    write_config(project, '[[checks]]\nkind = "smoke"\ncommand = "sleep 30"\ntimeout = "60s"\n')
    assert turnout(project, "up", "--detach", "--version", "1.0").returncode == 0
    blue_pids = sorted(i for i in _pids(project, "blue"))
    deploy = subprocess.Popen([*TURNOUT, "deploy", "2.0"], cwd=project, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and status(project)["phase"] != "validate":
        time.sleep(0.2)
    agent_pid = int((project / ".turnout" / "agent.pid").read_text())
    os.kill(agent_pid, signal.SIGKILL)
    deploy.wait(30)
    assert deploy.returncode == 10  # lost the agent
    st = status(project)
    assert st["agent"]["running"] is False
    assert st["phase"] == "validate"  # the truth: a deploy was cut short here
    assert st["router"]["serving"] == {"blue": 100, "green": 0}  # and production never moved
    assert st["environments"]["blue"]["healthy"] == 2
    assert st["lock"] is None  # the holder died
    # the stack kept serving without the agent
    assert httpx.get(st["router"]["production_url"] + "/version").json()["version"] == "1.0"
    assert turnout(project, "up", "--detach").returncode == 0
    st = status(project)
    assert (st["phase"], st["active"]) == ("aborted", "blue")
    assert st["environments"]["green"]["instances"] == 0
    assert sorted(_pids(project, "blue")) == blue_pids  # adopted, not restarted
    events = json.loads(turnout(project, "history", "--json").stdout)
    resumed = [e["reason"] for e in events if e["action"] == "resume"]
    assert any("interrupted in phase validate" in r for r in resumed)  # the deployment: green dropped
    assert any("restarted during step validating" in r for r in resumed)  # the operation: ended, not lost


def _pids(project: Path, color: str) -> list[int]:
    data = json.loads((project / ".turnout" / "runtime" / f"{color}.json").read_text())
    return [int(i["pid"]) for i in data["instances"]]


def test_demo_json(tmp_path: Path) -> None:
    res = subprocess.run([*TURNOUT, "demo", "--json", "--requests", "4000"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=240, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout)
    assert summary["failed"] == 0, summary["errors"]
    assert summary["requests"] >= 4000
    assert summary["switches"] + summary["rollbacks"] >= 3
    assert summary["max_full_switch_ms"] is not None
    assert set(summary["colors"]) == {"blue", "green"}


def test_demo_bad_release_rolls_back_on_its_own(tmp_path: Path) -> None:
    res = subprocess.run([*TURNOUT, "demo", "--scenario", "bad-release", "--json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=240, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout)
    assert summary["rolled_back"] is True
    assert summary["trigger"] in ("error_rate", "outage")
    assert 0 < summary["detect_to_restore_ms"] < 5000
    assert summary["switches"] == 1 and summary["rollbacks"] == 1
