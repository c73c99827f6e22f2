"""Notifications from the real agent during a real deploy of the example app: a receiver that hangs
and one that refuses connections cost the deploy nothing (measured against the same deploy without
them), a live receiver gets every audit entry signed, and the delivery log says what became of each."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from turnout.notify import signing

from ..agent_helpers import history, turnout, wait_for
from ..conftest import write_config
from .receiver import black_hole, receiver, refused_url

TIMEOUT = 2.0
NOTIFY = """
[[notify]]
name = "hang"
url = "{hang}"
timeout = "{timeout}s"
retries = 2
backoff = "500ms"

[[notify]]
name = "refused"
url = "{refused}"
timeout = "{timeout}s"
retries = 2
backoff = "500ms"

[[notify]]
name = "live"
url = "{live}"
secret = "${{TURNOUT_TEST_NOTIFY_SECRET}}"
"""
SECRET = "agent-test-secret"


def timed_deploy(project: Path, env: dict[str, str] | None = None) -> float:
    assert turnout(project, "up", "--detach", "--version", "1.0", env=env).returncode == 0
    started = time.monotonic()
    res = turnout(project, "deploy", "2.0")
    took = time.monotonic() - started
    assert res.returncode == 0, res.stderr
    return took


def deliveries(project: Path) -> list[dict[str, Any]]:
    res = turnout(project, "notify", "log", "--json", "--limit", "1000")
    assert res.returncode == 0, res.stderr
    records: list[dict[str, Any]] = json.loads(res.stdout)
    return records


def test_dead_receivers_do_not_slow_a_real_deploy_and_every_delivery_is_recorded(tmp_path: Path) -> None:
    plain, noisy = tmp_path / "plain", tmp_path / "noisy"
    plain.mkdir()
    noisy.mkdir()
    write_config(plain)
    try:
        baseline = timed_deploy(plain)
    finally:
        turnout(plain, "down", timeout=60)
    env = {"TURNOUT_TEST_NOTIFY_SECRET": SECRET}
    with receiver() as live, black_hole() as hang:
        write_config(noisy, NOTIFY.format(hang=hang, refused=refused_url(), live=live.url, timeout=TIMEOUT))
        try:
            took = timed_deploy(noisy, env)
            audit = [e for e in history(noisy) if e["action"] != "bootstrap"]
            # the hanging receiver's first event: three attempts of TIMEOUT, 0.5 s and 1 s apart
            first = wait_for("the first delivery to the hanging receiver to end",
                             lambda: next((r for r in deliveries(noisy) if r["target"] == "hang"), None), 20)
        finally:
            started = time.monotonic()
            turnout(noisy, "down", timeout=60)
            down = time.monotonic() - started
        got = live.wait(len(audit))
    print(f"\ndeploy without receivers {baseline:.2f}s; with a hanging and a refusing receiver {took:.2f}s; "
          f"down {down:.2f}s; hanging delivery {first['latency_ms']:.0f} ms over {first['attempts']} attempts")
    assert took <= baseline + TIMEOUT, (baseline, took)  # blocking would add ~7.5 s per event
    assert (first["outcome"], first["attempts"], first["status"]) == ("failed", 3, None)
    assert 3 * TIMEOUT + 1.5 <= first["latency_ms"] / 1000 < 3 * TIMEOUT + 1.5 + 1.0
    assert first["error"] == f"no answer within {TIMEOUT:g}s"

    records = deliveries(noisy)
    refused = [r for r in records if r["target"] == "refused"]
    assert refused and all(r["outcome"] in ("failed", "dropped") for r in refused)
    assert any(r["attempts"] == 3 and "Connect" in r["error"] for r in refused), refused
    hung = [r for r in records if r["target"] == "hang"]
    assert {r["outcome"] for r in hung} == {"failed", "dropped"}  # the rest was still queued at `down`
    assert any(r["error"] == "the agent stopped before it was delivered" for r in hung)

    # the live receiver: every audit entry of the deploy, signed, and each recorded as delivered
    ids = {e["id"] for e in audit}
    bodies = [json.loads(r.body) for r in got]
    assert ids <= {b["id"] for b in bodies}
    assert all(signing.verify(SECRET.encode(), r.body, r.headers["X-Turnout-Timestamp"],
                              r.headers["X-Turnout-Signature"]) for r in got)
    delivered = {r["audit_id"] for r in records if r["target"] == "live" and r["outcome"] == "delivered"}
    assert ids <= delivered
    for name in ("hang", "refused", "live"):  # one record per event per target: nothing goes unrecorded
        mine = [r for r in records if r["target"] == name]
        assert len({r["delivery"] for r in mine}) == len(mine) >= len(ids)


def test_reload_applies_a_new_notify_target_to_the_running_agent(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    assert turnout(tmp_path, "up", "--detach", "--version", "1.0").returncode == 0
    try:
        with receiver() as live:
            path.write_text(path.read_text() + f'\n[[notify]]\nurl = "{live.url}"\nevents = ["reload"]\n')
            res = turnout(tmp_path, "reload")
            assert res.returncode == 0 and "notify" in res.stdout, res.stdout + res.stderr
            [got] = live.wait(1)  # the reload's own audit entry, through the new target
            assert json.loads(got.body)["event"] == "reload:ok"
    finally:
        turnout(tmp_path, "down", timeout=60)
