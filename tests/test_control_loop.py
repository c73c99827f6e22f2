"""The control loop on the real agent, CLI and example app: one test per finding of the issue
(operator actions in an unlucky order must never leave production broken or unwatched)."""

from __future__ import annotations

import os
import signal
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout.control.local import state_db
from turnout.locations import agent_paths

from .agent_helpers import _zombie, agent_pid, history, kill_agent, load, spawn, status, turnout, wait_for
from .conftest import write_config

WATCH = '[stabilize]\nwindow = "{window}"\ninterval = "100ms"\nbaseline = "500ms"\n'


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    turnout(tmp_path, "down", timeout=60)


def up(project: Path, *args: str) -> None:
    res = turnout(project, "up", "--detach", *args)
    assert res.returncode == 0, res.stderr


def watching(project: Path) -> bool:
    op = status(project).get("operation")
    return bool(op) and op["step"] == "watching"


def test_1_down_then_up_serves_the_live_release(project: Path) -> None:
    write_config(project)
    up(project, "--version", "1.0")
    assert turnout(project, "deploy", "2.0").returncode == 0
    assert turnout(project, "down").returncode == 0
    up(project)  # no --version: the state says green serves 2.0
    st = status(project)
    assert st["active"] == "green" and st["environments"]["green"]["healthy"] == 2
    with load(st["router"]["production_url"]) as traffic:
        time.sleep(1.0)
    assert traffic.failed == [] and traffic.ok > 20 and set(traffic.versions) == {"2.0"}
    # the old color was warm (inside its retention window): it runs again too, a rollback away
    wait_for("blue to run again", lambda: status(project)["environments"]["blue"]["healthy"] == 2, 15)
    assert turnout(project, "rollback").returncode == 0


def test_2_agent_killed_during_the_watch_resumes_it_and_rolls_back(project: Path) -> None:
    write_config(project, WATCH.format(window="40s"))
    up(project, "--version", "1.0")
    res = turnout(project, "deploy", "2.0+fail-after-9", "--detach")
    assert res.returncode == 0 and "started in the agent" in res.stdout
    wait_for("the watch", lambda: watching(project), 30)
    kill_agent(project)
    res = turnout(project, "up", "--detach")  # the new agent resumes the watch with what is left of its window
    assert res.returncode == 0 and "resumed op-" in res.stdout and "deploy 2.0+fail-after-9" in res.stdout
    wait_for("the automatic rollback", lambda: status(project)["active"] == "blue", 40)
    events = history(project)
    assert any(e["action"] == "resume" and "watching green again" in e["reason"] for e in events)
    rollback = next(e for e in events if e["action"] == "rollback" and e["outcome"] == "ok")
    assert rollback["reason"].startswith("automatic:")


def test_3_unrelated_and_refused_commands_leave_the_watch_running(project: Path) -> None:
    write_config(project, WATCH.format(window="40s"))
    up(project, "--version", "1.0")
    assert turnout(project, "deploy", "2.0+fail-after-10", "--detach").returncode == 0
    wait_for("the watch", lambda: watching(project), 30)
    second = turnout(project, "deploy", "3.0")
    assert second.returncode == 3 and "an operation is running" in second.stderr  # refused: changes nothing
    assert turnout(project, "validate").returncode == 0  # unrelated: checks the idle (old) color
    assert watching(project)
    wait_for("the automatic rollback", lambda: status(project)["active"] == "blue", 40)
    events = history(project)
    assert not any(e["action"] == "stabilize" and e["outcome"] == "ok" for e in events)
    # 8: the release a trigger rolled back is remembered
    res = turnout(project, "rollback")
    assert res.returncode == 6 and "rolled back automatically" in res.stderr and "--force" in res.stderr
    res = turnout(project, "deploy", "2.0+fail-after-10")
    assert res.returncode == 6 and "--force" in res.stderr
    assert status(project)["bad"] == ["2.0+fail-after-10"]
    res = turnout(project, "switch", "--force")  # the operator's own call: it switches, and it is watched
    assert res.returncode == 0 and "green serves all traffic" in res.stdout
    wait_for("the watch to catch it again", lambda: status(project)["active"] == "blue", 30)
    automatic = [e for e in history(project) if (e["action"], e["outcome"]) == ("rollback", "ok")
                 and e["reason"].startswith("automatic")]
    assert len(automatic) == 2


def test_4_warm_after_the_retention_window_stays_warm(project: Path) -> None:
    # warm starts a new window: 1.2 s of sleep, a status and a rollback must fit in it on a busy machine
    write_config(project, retention="4s")
    up(project, "--version", "1.0")
    assert turnout(project, "deploy", "2.0").returncode == 0
    wait_for("blue to be retired", lambda: not status(project)["environments"]["blue"]["warm"], 20)
    assert turnout(project, "rollback").returncode == 6
    assert turnout(project, "warm", "blue").returncode == 0
    time.sleep(1.2)  # the old code scaled it down again within a second
    st = status(project)
    assert st["environments"]["blue"]["warm"] and st["environments"]["blue"]["healthy"] == 2
    assert turnout(project, "rollback").returncode == 0 and status(project)["active"] == "blue"


def test_6_ctrl_c_detaches_and_the_deploy_goes_on(project: Path) -> None:
    write_config(project, '[[checks]]\nkind = "smoke"\ncommand = "sleep 2"\n')
    up(project, "--version", "1.0")
    deploy = spawn(project, "deploy", "2.0")
    wait_for("the check to run", lambda: (status(project).get("operation") or {}).get("step") == "validating", 30)
    deploy.send_signal(signal.SIGINT)
    _, err = deploy.communicate(timeout=30)
    assert deploy.returncode == 130 and "detached from op-" in err and "turnout abort" in err
    wait_for("green to go live anyway", lambda: status(project)["active"] == "green", 30)


def test_6b_abort_on_interrupt_aborts(project: Path) -> None:
    write_config(project, '[[checks]]\nkind = "smoke"\ncommand = "sleep 5"\n')
    up(project, "--version", "1.0")
    deploy = spawn(project, "deploy", "2.0", "--abort-on-interrupt")
    wait_for("the check to run", lambda: (status(project).get("operation") or {}).get("step") == "validating", 30)
    deploy.send_signal(signal.SIGINT)
    _, err = deploy.communicate(timeout=30)
    assert deploy.returncode == 130 and "aborting op-" in err
    st = status(project)
    assert (st["active"], st["phase"], st["environments"]["green"]["instances"]) == ("blue", "aborted", 0)


def test_7_abort_stops_a_running_deploy(project: Path) -> None:
    write_config(project, '[[checks]]\nkind = "smoke"\ncommand = "sleep 20"\ntimeout = "30s"\n')
    up(project, "--version", "1.0")
    deploy = spawn(project, "deploy", "2.0")
    wait_for("the check to run", lambda: (status(project).get("operation") or {}).get("step") == "validating", 30)
    res = turnout(project, "abort", "--reason", "wrong build")
    assert res.returncode == 0, res.stderr
    _, err = deploy.communicate(timeout=30)
    assert deploy.returncode == 14 and "aborted by" in err and "wrong build" in err
    st = status(project)
    assert (st["active"], st["phase"], st["environments"]["green"]["instances"]) == ("blue", "aborted", 0)
    assert st["operation"] is None
    assert turnout(project, "abort").returncode == 6  # nothing left to abort: refused, nothing changes


def test_9_the_agent_notices_config_edits_and_reload_applies_what_it_can(project: Path) -> None:
    path = write_config(project, WATCH.format(window="0s"))
    up(project, "--version", "1.0")
    assert not status(project)["agent"]["config_changed"]
    path.write_text(path.read_text().replace('window = "0s"', 'window = "1s"'))
    assert status(project)["agent"]["config_changed"]
    res = turnout(project, "deploy", "2.0")
    assert "changed since the agent loaded it" in res.stderr and "turnout reload" in res.stderr
    assert "watching" not in res.stderr  # the running agent still uses the file it loaded
    res = turnout(project, "reload")
    assert res.returncode == 0 and "applied: stabilize" in res.stdout
    assert not status(project)["agent"]["config_changed"]
    res = turnout(project, "deploy", "3.0")
    assert res.returncode == 0 and "watching blue for 1s" in res.stderr
    text = path.read_text()
    old_port = text.split('production = "127.0.0.1:')[1].split('"')[0]
    path.write_text(text.replace(f'production = "127.0.0.1:{old_port}"', 'production = "127.0.0.1:1"')
                    .replace('retention = "10m"', 'retention = "5m"'))
    res = turnout(project, "reload")
    assert res.returncode == 2 and "applied: deploy" in res.stdout
    assert "refused: router: the router cannot change while the agent runs" in res.stderr
    assert status(project)["router"]["production_url"].endswith(f":{old_port}")  # refused: not applied


def test_9b_an_agent_restart_with_keep_serving_applies_the_config_and_resumes_the_watch(project: Path) -> None:
    path = write_config(project, WATCH.format(window="30s"))
    up(project, "--version", "1.0")
    res = turnout(project, "reload")
    assert res.returncode == 0
    path.write_text(path.read_text().replace('stop_grace = "5s"', 'stop_grace = "3s"'))
    res = turnout(project, "reload")  # a runtime change: refused, with the way that keeps traffic flowing
    assert res.returncode == 2 and "turnout down --keep-serving" in res.stderr, res.stderr
    assert turnout(project, "deploy", "2.0+fail-after-12", "--detach").returncode == 0
    wait_for("the watch", lambda: watching(project), 30)
    pid = agent_pid(project)
    with load(status(project)["router"]["production_url"]) as traffic:
        res = turnout(project, "down", "--keep-serving")
        assert res.returncode == 0 and "go on serving" in res.stdout, res.stderr
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)  # gone, and nothing it ran was stopped
        st = status(project)
        assert st["agent"]["running"] is False and st["active"] == "green"
        assert st["environments"]["green"]["healthy"] == 2 and st["environments"]["blue"]["healthy"] == 2
        up(project)  # adopts the router and instances, loads the edited file, resumes the watch
        assert not status(project)["agent"]["config_changed"]
        wait_for("the watch to catch the release", lambda: status(project)["active"] == "blue", 40)
    assert traffic.failed == [] and traffic.ok > 100, traffic.failed
    events = history(project)
    stop = next(e for e in events if e["action"] == "agent")
    assert stop["outcome"] == "stopped" and "goes on at the next `turnout up`" in stop["reason"]
    assert any(e["action"] == "resume" and "watching green again" in e["reason"] for e in events)
    assert turnout(project, "down", "--keep-serving").returncode == 0
    assert turnout(project, "down", "--keep-serving").stdout.strip() == "agent was not running; nothing stopped"


def test_9c_a_stopped_or_killed_agent_gets_a_clear_answer_not_a_hang(project: Path) -> None:
    write_config(project)
    up(project, "--version", "1.0")
    assert turnout(project, "deploy", "2.0").returncode == 0
    pid = agent_pid(project)
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        res = turnout(project, "rollback", timeout=60)
        took = time.monotonic() - started
        shown = status(project)  # read from the router and the instances, the agent named as not answering
        assert shown["agent"]["running"] is False and shown["agent"]["pid"] == pid and shown["active"] == "green"
        second = turnout(project, "up", "--detach")  # a second agent would fight it once it wakes up
        assert second.returncode == 3 and f"another turnout agent (pid {pid})" in second.stderr, second.stderr
    finally:
        os.kill(pid, signal.SIGCONT)
    assert res.returncode == 10 and f"pid {pid}) did not answer within 10s" in res.stderr, res.stderr
    assert took < 20
    # it woke up: the command it had been sent ran then, as the message warned
    wait_for("the late rollback", lambda: status(project)["active"] == "blue", 15)
    kill_agent(project)
    res = turnout(project, "switch")
    assert res.returncode == 10 and "left by an agent that was killed" in res.stderr
    assert "turnout up --detach" in res.stderr
    up(project)
    assert turnout(project, "switch").returncode == 0 and status(project)["active"] == "green"


def test_10_the_pre_deploy_hook_gets_the_version_being_deployed(project: Path) -> None:
    write_config(project, '[hooks]\n"pre-deploy" = "echo $TURNOUT_VERSION $TURNOUT_LIVE_VERSION > hook.out"\n')
    up(project, "--version", "1.0")
    assert turnout(project, "deploy", "2.0").returncode == 0
    assert (project / "hook.out").read_text().split() == ["2.0", "1.0"]


def test_11_the_agent_socket_never_sits_in_a_shared_folder(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    sock, _ = agent_paths(deep / ".turnout")
    folder = sock.parent
    assert not str(folder).startswith("/tmp/turnout-") or folder.name == f"turnout-{os.getuid()}"
    info = folder.stat()
    assert info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) == 0o700


def test_11b_the_cli_refuses_a_socket_another_user_made(tmp_path: Path) -> None:
    write_config(tmp_path)
    sock, _ = agent_paths(tmp_path / ".turnout")
    sock.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(sock))
        s.listen()
        os.chown(sock, 65534, 65534)  # nobody: another local user got there first
        for args in (("status",), ("deploy", "2.0")):
            res = turnout(tmp_path, *args)
            assert res.returncode == 10 and "belongs to uid 65534" in res.stderr, (args, res.stderr)


def test_12_an_empty_state_never_bootstraps_over_a_running_deployment(project: Path) -> None:
    write_config(project)
    up(project, "--version", "1.0")
    assert turnout(project, "deploy", "2.0").returncode == 0
    prod = status(project)["router"]["production_url"]
    kill_agent(project)
    db = state_db_of(project)
    for extra in ("-wal", "-shm"):
        (db.parent / f"{db.name}{extra}").unlink(missing_ok=True)
    db.write_bytes(b"")  # truncated: an empty store, while the stack keeps serving
    with load(prod) as traffic:
        res = turnout(project, "up", "--detach", "--version", "1.0")
        assert res.returncode == 13 and "refusing to start over a running deployment" in res.stderr
        assert "recover --from-router" in res.stderr
        res = turnout(project, "recover", "--from-router")
        assert res.returncode == 0 and "recovered: green serves 2.0" in res.stdout
        up(project)
    assert traffic.failed == [] and set(traffic.versions) == {"2.0"}
    events = history(project)
    assert events[0]["action"] == "recover" and "rebuilt from the router" in events[0]["reason"]
    assert turnout(project, "history", "--verify").returncode == 0


def test_12b_a_corrupt_state_store_is_a_clear_error(tmp_path: Path) -> None:
    write_config(tmp_path)
    db = state_db_of(tmp_path)
    db.parent.mkdir(parents=True)
    db.write_bytes(b"SQLite format 3\x00" + os.urandom(8000))
    res = turnout(tmp_path, "history")
    assert res.returncode == 13 and "not a readable turnout state store" in res.stderr
    assert "Traceback" not in res.stderr
    res = turnout(tmp_path, "up", "--detach", "--version", "1.0")  # the agent refuses to start, and says why
    assert res.returncode == 13 and "recover --from-router" in res.stderr, res.stderr
    db.unlink()
    res = turnout(tmp_path, "up", "--detach")  # another refusal: its own hint, not the last start's
    assert res.returncode == 2 and "needs --version" in res.stderr, res.stderr
    assert "recover" not in res.stderr, res.stderr


def test_14_a_failure_is_said_once_with_its_own_log(project: Path) -> None:
    write_config(project)
    up(project, "--version", "1.0")
    assert turnout(project, "deploy", "2.0").returncode == 0
    res = turnout(project, "deploy", "3.0+broken")  # on blue, whose log holds 1.0's lines too
    assert res.returncode == 4
    err = res.stderr
    assert err.count("was not ready within") == 1, err
    assert "version=3.0+broken" in err and "version=1.0" not in err, err
    listening = [line for line in err.splitlines() if "listening on" in line]
    assert listening and len(listening) == len(set(listening)), err


def state_db_of(project: Path) -> Path:
    from turnout import config

    return state_db(config.load(project / "turnout.toml"))


def test_status_json_shows_desired_and_observed(project: Path) -> None:
    write_config(project)
    up(project, "--version", "1.0")
    st = status(project)
    assert st["environments"]["blue"]["version"] == st["environments"]["blue"]["running_version"] == "1.0"
    assert st["stored_weights"] == st["router"]["serving"] == {"blue": 100, "green": 0}
    assert st["drifts"] == [] and st["operation"] is None and st["bad"] == []
    assert turnout(project, "deploy", "2.0").returncode == 0
    ops = turnout(project, "ops")
    assert ops.returncode == 0 and "deploy   2.0" in ops.stdout and "succeeded" in ops.stdout
