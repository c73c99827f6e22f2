"""`turnout report` for a real deploy through the agent under load: a release that breaks under user
traffic after the switch and is rolled back by a trigger. The JSON numbers are checked against the
audit log and the traffic points (span covered, markers at the right times, checks and their
values), the PNG is a real picture of sensible size, the HTML embeds it with the checks table and
loads nothing from elsewhere; the same report comes from the store once the agent is down."""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ..agent_helpers import history, load, status, turnout
from ..conftest import write_config

WATCH = '[stabilize]\nwindow = "30s"\ninterval = "100ms"\nbaseline = "1s"\n'
MARGIN = 3.0
BAD = "2.0+fail-after-requests-300"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One bad deploy under load, rolled back automatically; the agent keeps running for the tests."""
    folder = tmp_path_factory.mktemp("report")
    write_config(folder, WATCH)
    assert turnout(folder, "up", "--detach", "--version", "1.0").returncode == 0
    try:
        with load(status(folder)["router"]["production_url"], path="/", pause=0.003):
            time.sleep(MARGIN + 1.5)  # traffic before the deploy
            res = turnout(folder, "deploy", BAD)
            assert res.returncode == 12, res.stderr  # rolled back automatically
            time.sleep(MARGIN + 1.5)  # and after it
        yield folder
    finally:
        turnout(folder, "down", timeout=60)


def report(project: Path, *args: str) -> dict[str, Any]:
    res = turnout(project, "report", "--format", "json", "--margin", f"{MARGIN:g}s", *args)
    assert res.returncode == 0, res.stderr
    found: dict[str, Any] = json.loads(res.stdout)
    return found


def audit(project: Path, name: str) -> dict[str, Any]:
    return next(e for e in history(project) if f"{e['action']}:{e['outcome']}" == name)


def test_json_numbers_cover_the_span_with_markers_at_the_audited_times(project: Path) -> None:
    r = report(project)
    op = r["operation"]
    assert (op["kind"], op["version"], op["state"]) == ("deploy", BAD, "rolled_back")
    t0 = op["created_at"]
    assert r["since"] == -MARGIN and r["until"] == pytest.approx(op["updated_at"] - t0 + MARGIN, abs=0.01)

    # traffic points: one a second per color, from the start of the span to its end
    for color in ("blue", "green"):
        at = r["series"][color]["at"]
        assert at[0] <= r["since"] + 1.5 and at[-1] >= r["until"] - 1.5, (color, at[0], at[-1])
        assert all(0.5 < b - a < 2.0 for a, b in itertools.pairwise(at))
    blue, green = r["series"]["blue"], r["series"]["green"]
    assert blue["requests"] > 500 and green["requests"] > 100
    assert green["errors"] > 0 and blue["errors"] == 0  # the bad release failed; blue never did
    before = [w for t, w in zip(blue["at"], blue["weight"], strict=True) if t < 0]
    assert before and set(before) == {100}  # all of it on blue before the deploy

    # markers at the times the audit log gives
    switch, rollback = audit(project, "switch:ok"), audit(project, "rollback:ok")
    routed = {e["kind"]: e for e in switch["evidence"]}["switch_timing"]["routed_at"]
    back = {e["kind"]: e for e in rollback["evidence"]}
    kinds = {m["kind"]: m for m in r["markers"]}
    assert set(kinds) >= {"deploy", "validate", "switch", "trigger", "rollback"}
    assert 0 <= kinds["deploy"]["at"] < 1.0 and kinds["deploy"]["label"] == f"deploy {BAD} → green"
    assert kinds["switch"]["at"] == pytest.approx(routed - t0, abs=0.002)
    assert kinds["trigger"]["at"] == pytest.approx(back["trigger"]["detected_at"] - t0, abs=0.002)
    assert kinds["rollback"]["at"] == pytest.approx(back["switch_timing"]["routed_at"] - t0, abs=0.002)
    worst = max(range(len(green["at"])), key=lambda i: green["error_rate"][i] or 0.0)
    assert green["error_rate"][worst] > 0  # the second with the most 5xx ends after the switch, by the rollback
    assert routed - t0 < green["at"][worst] <= kinds["rollback"]["at"] + 1.5
    order = [m["kind"] for m in r["markers"]]
    assert order.index("deploy") < order.index("validate") < order.index("switch") < order.index("trigger") \
        < order.index("rollback")

    # the split as the router served it: blue, green from the switch, blue again from the rollback
    assert [(round(s["at"], 3), s["weights"]) for s in r["split"]] == [
        (-MARGIN, {"blue": 100, "green": 0}), (round(routed - t0, 3), {"blue": 0, "green": 100}),
        (round(back["switch_timing"]["routed_at"] - t0, 3), {"blue": 100, "green": 0})]

    # the checks and their measured values: the gate's, and the judgements of the trigger that fired
    rows = {(c["step"], c["check"]): c for c in r["checks"]}
    assert rows[("validate", "readiness")]["verdict"] == "pass"
    assert rows[("validate", "version")]["verdict"] == "pass"
    fired = [c for c in r["checks"] if c["step"] == "trigger"]
    judged = {m["check"]: m for m in back["trigger"]["judgements"]}
    assert fired and {c["check"] for c in fired} == set(judged)
    assert any(c["verdict"] == "fail" for c in fired)
    for c in fired:
        assert (c["verdict"], c["detail"]) == (judged[c["check"]]["verdict"], judged[c["check"]]["detail"])


def test_png_is_a_picture_of_sensible_size(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.png"
    res = turnout(project, "report", "--format", "png", "-o", str(out))
    assert res.returncode == 0 and res.stdout.startswith(f"{out}: op-"), res.stderr
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and 20_000 < len(data) < 1_000_000
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (1100, 850)
        assert len(image.convert("RGB").getcolors(1_000_000) or []) > 50  # drawn on, not a blank canvas
    assert b"matplotlib.org" not in data


def test_html_embeds_the_picture_and_the_checks_table_and_loads_nothing(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert turnout(project, "report", "--format", "html", "-o", str(out)).returncode == 0
    page = out.read_text()
    [embedded] = re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    with Image.open(io.BytesIO(base64.b64decode(embedded))) as image:
        assert image.size == (1100, 850)
    assert "<h2>Checks and their measured values</h2>" in page
    assert re.search(r"<td>validate</td><td>readiness</td><td class=\"pass\">pass</td>", page)
    assert re.search(r"<td>trigger</td><td>[a-z_.]+</td><td class=\"fail\">fail</td><td class=\"num\">[0-9.e+-]+</td>",
                     page)
    # self-contained: nothing fetched (no script, stylesheet, font, frame; the only source is the data: image)
    assert not re.search(r"<script|<link|<iframe|@import|url\(", page, re.IGNORECASE)
    assert re.findall(r'(?:src|href)="([^"]*)"', page) == [f"data:image/png;base64,{embedded}"]
    # and the only URLs at all are the loopback ones a check's detail names (text, never loaded)
    assert {re.sub(r":\d+.*", "", u) for u in re.findall(r"https?://[^\s<\"]+", page)} <= {"http://127.0.0.1"}


def test_errors_say_what_is_missing(project: Path) -> None:
    res = turnout(project, "report", "op-nope", "--format", "json")
    assert res.returncode == 2 and "no operation op-nope for shop (the latest: op-" in res.stderr
    assert "`turnout ops` lists them" in res.stderr


def test_without_the_agent_the_store_gives_the_same_report_and_no_traffic_is_an_error(project: Path,
                                                                                       tmp_path: Path) -> None:
    live = report(project)
    assert turnout(project, "down", timeout=60).returncode == 0
    stored = report(project, live["operation"]["id"])
    for key in ("operation", "since", "until", "split", "markers", "checks"):
        assert stored[key] == live[key], key
    for color in ("blue", "green"):  # the same points, from the table instead of the agent's memory
        assert stored["series"][color]["at"] == live["series"][color]["at"]
        assert stored["series"][color]["requests"] == live["series"][color]["requests"]

    with sqlite3.connect(project / ".turnout" / "state.db") as db:  # points older than a week are deleted
        db.execute("DELETE FROM traffic")
    res = turnout(project, "report")
    assert res.returncode == 1 and f"no traffic was recorded during {live['operation']['id']} (" in res.stderr
    assert "hint: the agent records traffic once a second" in res.stderr

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    write_config(fresh)
    res = turnout(fresh, "report")
    assert res.returncode == 2 and "no operation recorded for shop yet" in res.stderr
