"""The real agent with the Docker runtime, under keep-alive load: deploy, rollback, deploy, an agent
SIGKILLed and started again (containers adopted by label, none restarted); two engines, one of which
goes away in the middle of a deploy; secrets nowhere in what turnout writes or prints."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from tests.agent_helpers import TURNOUT, history, kill_agent, load, status, turnout, wait_for
from tests.docker_runtime.conftest import REPOSITORY
from tests.docker_runtime.engines import DockerEngine
from turnout.infra.procs import free_port

SECRET = "s3cr3t-" + secrets.token_hex(8)


def write_config(folder: Path, hosts: list[str], *, router: str = "builtin", command: list[str] | None = None,
                 options: str = "", ready_timeout: str = "20s") -> str:
    app = f"shop-{secrets.token_hex(3)}"  # the label that scopes everything this test starts
    (folder / "turnout.toml").write_text(f"""
[app]
name = "{app}"

[runtime]
kind = "docker"
instances = 2
ready_timeout = "{ready_timeout}"
stop_grace = "5s"
command = {json.dumps(command or [])}
env = {{ EXAMPLE_ADMIN_TOKEN = "test-admin-token" }}

[runtime.options]
image = "{REPOSITORY}"
pull = "never"
hosts = {json.dumps(hosts)}
{options}

[health]
successes = 2
interval = "50ms"
deadline = "5s"

[router]
kind = "{router}"
production = "127.0.0.1:{free_port()}"
test = "127.0.0.1:{free_port()}"
admin = "127.0.0.1:{free_port()}"
drain = "3s"

[stabilize]
window = "0s"

[deploy]
retention = "10m"
""")
    return app


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    turnout(tmp_path, "down", timeout=60)


def containers(engine: DockerEngine, app: str) -> dict[str, tuple[str, str, str]]:
    """id -> (color, version, StartedAt) of the app's containers on the engine."""
    api = engine.api()
    found = {}
    for c in api.containers(all=True, filters={"label": [f"turnout.app={app}"]}):
        try:
            info = api.inspect_container(c["Id"])
        except docker.errors.NotFound:  # gone between the list and the inspect: a start on a busy host port
            continue  # is removed and tried again on the next port (the two engines here share one machine)
        labels = info["Config"]["Labels"]
        found[c["Id"]] = (labels["turnout.color"], labels["turnout.version"], info["State"]["StartedAt"])
    return found


def ok(res: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert res.returncode == 0, res.stdout + res.stderr
    return res


@pytest.mark.parametrize("router", ["builtin", "haproxy"])
def test_deploy_rollback_deploy_and_a_killed_agent_under_load(project: Path, router: str, app_image: str,
                                                               docker_engine: DockerEngine) -> None:
    app = write_config(project, [docker_engine.url], router=router)
    ok(turnout(project, "up", "--detach", "--version", "1.0"))
    prod = status(project)["router"]["production_url"]
    with load(prod) as traffic:
        ok(turnout(project, "deploy", "2.0"))
        wait_for("some answers from 2.0", lambda: traffic.versions.get("2.0", 0) > 20)
        ok(turnout(project, "rollback"))
        ok(turnout(project, "deploy", "3.0"))
        wait_for("some answers from 3.0", lambda: traffic.versions.get("3.0", 0) > 20)
        before = containers(docker_engine, app)
        kill_agent(project)
        wait_for("requests served while the agent is gone", lambda: traffic.versions["3.0"] > 200)
        ok(turnout(project, "up", "--detach"))
        st = status(project)
        wait_for("more answers after the new agent came up", lambda: traffic.versions["3.0"] > 400)
    assert traffic.failed == [], traffic.failed[:5]
    assert set(traffic.versions) == {"1.0", "2.0", "3.0"}, traffic.versions
    after = containers(docker_engine, app)
    assert after == before  # adopted by label: the same containers, none restarted
    assert sorted(v[:2] for v in after.values()) == [("blue", "1.0")] * 2 + [("green", "3.0")] * 2
    assert st["active"] == "green" and st["environments"]["green"]["healthy"] == 2
    assert st["environments"]["blue"]["healthy"] == 2  # the old color stays warm for a rollback
    print(f"\n[{router}] {traffic.ok} requests, {len(traffic.failed)} failed, answers per version {traffic.versions}")
    ok(turnout(project, "down"))
    assert containers(docker_engine, app) == {}


@pytest.fixture
def forwarder(second_engine: DockerEngine) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The second engine as a TCP host (tcp://127.0.0.1:PORT), through socat: killing it takes the host's
    API away, as a host that goes down or off the network would; its containers keep serving."""
    port = free_port()
    sock = second_engine.url.removeprefix("unix://")
    proc = subprocess.Popen(["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr", f"UNIX-CONNECT:{sock}"],
                            start_new_session=True)
    wait_for("socat to listen", lambda: subprocess.run(["socat", "-u", "/dev/null", f"TCP:127.0.0.1:{port}"],
                                                       check=False, capture_output=True).returncode == 0, 5)
    yield f"tcp://127.0.0.1:{port}", proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_two_hosts_and_one_that_goes_away_mid_deploy(project: Path, app_image: str, app_image_b: str,
                                                     docker_engine: DockerEngine, second_engine: DockerEngine,
                                                     forwarder: tuple[str, subprocess.Popen[bytes]]) -> None:
    host_b, socat = forwarder
    # every instance waits 2s before it is ready: the deploy is surely under way when the host goes
    app = write_config(project, [docker_engine.url, host_b],
                       command=["python3", "/opt/turnout/app.py", "--host", "0.0.0.0", "--ready-delay", "2"])
    ok(turnout(project, "up", "--detach", "--version", "1.0"))
    st = status(project)
    assert [(c, v) for c, v, _ in containers(docker_engine, app).values()] == [("blue", "1.0")]
    assert [(c, v) for c, v, _ in containers(second_engine, app).values()] == [("blue", "1.0")]
    assert st["environments"]["blue"]["healthy"] == 2 and len(set(st["environments"]["blue"]["endpoints"])) == 2
    with load(st["router"]["production_url"]) as traffic:
        deploy = subprocess.Popen([*TURNOUT, "deploy", "2.0"], cwd=project, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        wait_for("green's container on the second host", lambda: any(
            c == "green" for c, _, _ in containers(second_engine, app).values()), 20, 0.05)
        os.killpg(socat.pid, signal.SIGKILL)  # the second host goes away
        out, err = deploy.communicate(timeout=60)
        wait_for("blue still answering after the failed deploy", lambda: traffic.ok > 300)
    assert deploy.returncode != 0, out + err
    assert f"docker host {host_b} is unreachable" in err, err
    assert traffic.failed == [] and set(traffic.versions) == {"1.0"}, (traffic.failed[:5], traffic.versions)
    st = status(project)  # the host that is away: its blue instance as last seen, still answering
    assert st["active"] == "blue" and st["environments"]["blue"]["healthy"] == 2
    last = history(project)[-1]
    assert last["action"] == "deploy" and last["outcome"] == "failed" and host_b in last["reason"]
    print(f"\n[two hosts] {traffic.ok} requests, {len(traffic.failed)} failed during the failed deploy; "
          f"deploy said: {next(line for line in err.splitlines() if 'unreachable' in line)}")


def test_secrets_never_reach_what_turnout_writes_or_prints(project: Path, app_image: str,
                                                           docker_engine: DockerEngine) -> None:
    (project / "secret.txt").write_text(SECRET)
    (project / "app.env").write_text(f"ALSO_SECRET={SECRET}-2\n")
    app = write_config(project, [docker_engine.url],
                       options='secrets = { DB_PASSWORD = "secret.txt" }\nenv_files = ["app.env"]', ready_timeout="3s")
    said = [ok(turnout(project, "up", "--detach", "--version", "1.0")), ok(turnout(project, "deploy", "2.0")),
            ok(turnout(project, "status", "--json")), ok(turnout(project, "history", "--json")),
            turnout(project, "deploy", "2.0+broken"), ok(turnout(project, "check-config"))]
    api = docker_engine.api()
    green = api.containers(filters={"label": [f"turnout.app={app}", "turnout.color=green"]})[0]
    assert f"DB_PASSWORD={SECRET}" in api.inspect_container(green["Id"])["Config"]["Env"]  # it did reach the app
    ok(turnout(project, "down"))
    for res in said:
        assert SECRET not in res.stdout + res.stderr
    written = [p for p in (project / ".turnout").rglob("*") if p.is_file()]
    assert written and not [p for p in written if SECRET.encode() in p.read_bytes()]
