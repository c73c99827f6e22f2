"""The report's numbers from an operation, audit entries and traffic points (pure, exact): a canary
deploy whose last step failed and was rolled back."""

from __future__ import annotations

from turnout.events import AuditEvent, Checked, SwitchTiming, TriggerFired
from turnout.model import Color, Measurement, TrafficPoint, Verdict
from turnout.report import data

T0 = 1_000_000.0
OP = data.OperationInfo(id="op-1", kind="deploy", state="rolled_back", version="2.0", created_at=T0,
                        updated_at=T0 + 20)


def event(action: str, outcome: str, at: float, **kw: object) -> AuditEvent:
    return AuditEvent(app="shop", action=action, outcome=outcome, at=T0 + at,
                      versions={"blue": "1.0", "green": "2.0"}, **kw)  # type: ignore[arg-type]


EVENTS = [
    event("deploy", "started", -30.0, to_color=Color.GREEN),  # an earlier deploy, outside the span
    event("deploy", "started", 0.1, from_color=Color.BLUE, to_color=Color.GREEN),
    event("validate", "started", 1.0, to_color=Color.GREEN),
    event("validate", "ok", 2.0, to_color=Color.GREEN,
          evidence=(Checked(measurement=Measurement("smoke", Verdict.PASS, 0.25, "ok")),)),
    event("canary", "shifted", 3.0, from_color=Color.BLUE, to_color=Color.GREEN, reason="router serves 25% to green"),
    event("canary", "ok", 8.0, reason="25% to green held for 5s",
          evidence=(Checked(measurement=Measurement("error_rate", Verdict.PASS, 0.0, "0 of 50")),)),
    event("rollback", "ok", 12.0, from_color=Color.GREEN, to_color=Color.BLUE, evidence=(
        SwitchTiming(ms=2.0, routed_at=T0 + 11.9),
        TriggerFired(trigger="error_rate", reason="30%", detected_at=T0 + 11.5,
                     judgements=(Measurement("error_rate", Verdict.FAIL, 0.3, "15 of 50"),
                                 Measurement("latency", Verdict.PASS, 0.0, "")))))]


def point(at: float, color: Color, requests: int, errors: int, weight: int, p99: float | None = 0.004) -> TrafficPoint:
    return TrafficPoint(at=T0 + at, color=color, seconds=1.0, requests=requests, errors=errors, p99=p99, weight=weight)


POINTS = [point(-11.0, Color.BLUE, 99, 0, 100),  # before the span
          point(-5.0, Color.BLUE, 100, 0, 100), point(-5.0, Color.GREEN, 0, 0, 0, None),
          point(5.0, Color.BLUE, 75, 0, 75), point(5.0, Color.GREEN, 25, 0, 25),
          point(12.0, Color.BLUE, 80, 0, 100), point(12.0, Color.GREEN, 20, 6, -1, 0.050)]


def test_series_markers_split_and_checks() -> None:
    since, until = data.span(OP, now=T0 + 999, margin=10.0)
    r = data.build("shop", OP, EVENTS, POINTS, since=since, until=until)
    assert (r.since, r.until) == (-10.0, 30.0)
    blue, green = r.series["blue"], r.series["green"]
    assert (blue.at, blue.weight, blue.rps, blue.requests) == ([-5.0, 5.0, 12.0], [100, 75, 100],
                                                              [100.0, 75.0, 80.0], 255)
    assert (green.weight, green.error_rate, green.p99_ms) == ([0, 25, None], [None, 0.0, 30.0], [None, 4.0, 50.0])
    assert [(m.at, m.kind, m.label) for m in r.markers] == [
        (0.1, "deploy", "deploy 2.0 → green"), (1.0, "validate", "validate"), (2.0, "validate", "validated"),
        (3.0, "switch", "25% to green"), (11.5, "trigger", "trigger error_rate"), (11.9, "rollback", "rollback → blue")]
    assert [(s.at, s.weights) for s in r.split] == [(-10.0, {"blue": 100, "green": 0}),
                                                    (3.0, {"blue": 75, "green": 25}),
                                                    (11.9, {"blue": 100, "green": 0})]
    assert [(c.at, c.step, c.check, c.verdict, c.value) for c in r.checks] == [
        (2.0, "validate", "smoke", "pass", 0.25), (8.0, "canary", "error_rate", "pass", 0.0),
        (11.5, "trigger", "error_rate", "fail", 0.3), (11.5, "trigger", "latency", "pass", 0.0)]
    assert r.as_json()["operation"]["id"] == "op-1" and r.as_json()["split"][1]["weights"]["green"] == 25


def test_a_running_operation_reaches_to_now() -> None:
    running = data.OperationInfo(id="op-2", kind="deploy", state="running", created_at=T0, updated_at=T0 + 1)
    assert data.span(running, now=T0 + 50, margin=5.0) == (T0 - 5, T0 + 55)
