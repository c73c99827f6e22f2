"""Gates on the real agent: a webhook that must answer 2xx (before the switch, before each canary
step, before promotion), its timeout and on_timeout, and an approval given with `turnout approve`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from turnout.control.client import AgentClient

from .agent_helpers import history, status, turnout, version_at, wait_for
from .conftest import write_config


class Receiver:
    """A gate webhook on loopback: answers `statuses` in turn (the last one repeats), after `delay`."""

    def __init__(self) -> None:
        self.statuses = [200]
        self.delay = 0.0
        self.calls: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.calls.append(body)
                time.sleep(receiver.delay)
                code = receiver.statuses[min(len(receiver.calls), len(receiver.statuses)) - 1]
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"no" if code >= 300 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    turnout(tmp_path, "down", timeout=60)


def start(project: Path, gates: str, deploy: str = "") -> str:
    write_config(project, deploy + gates)
    assert turnout(project, "up", "--detach", "--version", "1.0").returncode == 0
    url: str = status(project)["router"]["production_url"]
    return url


def gate(point: str, url: str = "", **extra: str) -> str:
    lines = [f'point = "{point}"', *([f'url = "{url}"'] if url else ["approval = true"]),
             *(f"{k} = {v}" for k, v in extra.items())]
    return "\n[[gates]]\n" + "\n".join(lines) + "\n"


def test_a_2xx_opens_the_switch_and_gets_the_step_described(project: Path, receiver: Receiver) -> None:
    url = start(project, gate("before-switch", receiver.url))
    res = turnout(project, "deploy", "2.0")
    assert res.returncode == 0, res.stderr
    assert version_at(url) == "2.0"
    [call] = receiver.calls
    assert (call["point"], call["version"], call["live"], call["app"]) == ("before-switch", "2.0",
                                                                             status(project)["idle"], "shop")


def test_a_5xx_halts_before_any_traffic_moves_and_promote_tries_again(project: Path, receiver: Receiver) -> None:
    url = start(project, gate("before-switch", receiver.url))
    receiver.statuses = [503, 200]
    res = turnout(project, "deploy", "2.0")
    assert res.returncode == 15, res.stderr
    assert "before-switch gate" in res.stderr and "HTTP 503" in res.stderr
    st = status(project)
    assert (st["phase"], version_at(url)) == ("validate", "1.0")  # validated and paused, blue still serves
    closed = [e for e in history(project) if e["action"] == "gate"]
    assert closed[-1]["outcome"] == "closed"
    res = turnout(project, "promote")
    assert res.returncode == 0, res.stderr
    assert version_at(url) == "2.0" and len(receiver.calls) == 2


@pytest.mark.parametrize(("on_timeout", "code", "live"), [("continue", 0, "2.0"), ("halt", 15, "1.0")])
def test_a_silent_webhook_follows_on_timeout(project: Path, receiver: Receiver, on_timeout: str, code: int,
                                             live: str) -> None:
    url = start(project, gate("before-switch", receiver.url, timeout='"500ms"', on_timeout=f'"{on_timeout}"'))
    receiver.delay = 3.0
    began = time.monotonic()
    res = turnout(project, "deploy", "2.0")
    assert res.returncode == code, res.stderr
    assert version_at(url) == live
    assert time.monotonic() - began < 15  # the gate waited its 0.5 s budget, not the receiver's 3 s
    event = next(e for e in reversed(history(project)) if e["action"] == "gate")
    assert f"on_timeout = {on_timeout}" in event["reason"]


def test_a_closed_gate_between_canary_steps_puts_traffic_back(project: Path, receiver: Receiver) -> None:
    url = start(project, gate("before-step", receiver.url) + gate("before-promotion", receiver.url),
                deploy='step_window = "300ms"\n')
    receiver.statuses = [200, 200, 500]  # step 10 %, step 50 %, then no
    res = turnout(project, "deploy", "2.0", "--steps", "10,50")
    assert res.returncode == 15, res.stderr
    assert [c["point"] for c in receiver.calls] == ["before-step", "before-step", "before-promotion"]
    assert [c["step"] for c in receiver.calls] == [10, 50, 100]
    st = status(project)
    assert st["router"]["serving"][st["active"]] == 100 and version_at(url) == "1.0"
    op = AgentClient(project / ".turnout").operations()[0]
    assert op.state == "rolled_back" and "before-promotion gate closed" in op.message


def test_an_approval_gate_waits_for_turnout_approve(project: Path) -> None:
    url = start(project, gate("before-switch", timeout='"60s"'))
    assert turnout(project, "approve").returncode == 6  # nothing waits yet: refused, changes nothing
    assert turnout(project, "deploy", "2.0", "--detach").returncode == 0
    wait_for("the deploy to wait at the gate", lambda: (status(project).get("operation") or {}).get("step") == "gate")
    assert version_at(url) == "1.0"
    res = turnout(project, "approve", "--reason", "release manager says go")
    assert res.returncode == 0 and "approved" in res.stdout, res.stderr
    wait_for("2.0 to be live", lambda: version_at(url) == "2.0")
    event = next(e for e in reversed(history(project)) if e["action"] == "gate")
    assert event["outcome"] == "open" and "release manager says go" in event["reason"]
