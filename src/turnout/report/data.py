"""A deploy report's numbers: per color over the operation's span, the traffic split, request rate,
error rate and p99; markers for its steps from the audit log; and the checks with their measured
values (the gate's, the watch's, and the judgements of a trigger that fired).

Pure: the caller gathers an operation, the audit entries and the traffic points (from the agent or
the store); plot.py draws a Report and page.py wraps it in HTML. Times in a Report are seconds
from the operation's start; `started` is its wall-clock time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from turnout.events import AuditEvent, SwitchTiming, TriggerFired
from turnout.model import Color, Measurement, TrafficPoint, Weights

_PERCENT = re.compile(r"(\d+)% to (blue|green)")

MARGIN = 10.0  # seconds of traffic before and after the operation: the baseline and the aftermath
KINDS = ("deploy", "validate", "switch", "trigger", "rollback", "abort", "watch")


@dataclass(frozen=True)
class OperationInfo:
    id: str
    kind: str
    state: str
    version: str | None = None
    actor: str = ""
    message: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class Series:
    """One color's traffic, one entry per recorded point (about a second each)."""

    color: str
    at: list[float] = field(default_factory=list)  # seconds from the operation's start
    weight: list[int | None] = field(default_factory=list)  # percent served; None if not read
    rps: list[float] = field(default_factory=list)
    error_rate: list[float | None] = field(default_factory=list)  # percent of requests; None without requests
    p99_ms: list[float | None] = field(default_factory=list)
    requests: int = 0
    errors: int = 0


@dataclass(frozen=True)
class Marker:
    at: float  # seconds from the operation's start
    kind: str  # one of KINDS
    label: str


@dataclass(frozen=True)
class Shift:
    """From `at` on, the router served this split: read back by the engine before it recorded the
    switch (exact to the millisecond, where traffic points are a second apart)."""

    at: float
    weights: dict[str, int]


@dataclass(frozen=True)
class CheckRow:
    at: float
    step: str  # validate, watch, canary, trigger
    check: str
    verdict: str
    value: float | str | None
    detail: str


@dataclass(frozen=True)
class Report:
    app: str
    operation: OperationInfo
    started: float  # wall clock of t = 0
    since: float  # the span, seconds from t = 0 (negative: before the operation)
    until: float
    series: dict[str, Series]
    split: list[Shift]
    markers: list[Marker]
    checks: list[CheckRow]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def span(op: OperationInfo, now: float, margin: float = MARGIN) -> tuple[float, float]:
    """Wall-clock (since, until) of an operation's report: a running one ends now."""
    end = op.updated_at if op.state != "running" else now
    return op.created_at - margin, max(end, op.created_at) + margin


def build(app: str, op: OperationInfo, events: Iterable[AuditEvent], points: Iterable[TrafficPoint], *,
          since: float, until: float) -> Report:
    t0 = op.created_at
    inside = [e for e in events if since <= e.at <= until]
    series = _series([p for p in points if since <= p.at <= until], t0)
    return Report(app=app, operation=op, started=t0, since=round(since - t0, 3), until=round(until - t0, 3),
                  series=series, split=_split(inside, series, round(since - t0, 3), t0),
                  markers=sorted((replace(m, at=round(m.at, 3)) for m in _markers(inside, t0)), key=lambda m: m.at),
                  checks=_checks(inside, t0))


def _series(points: Sequence[TrafficPoint], t0: float) -> dict[str, Series]:
    out: dict[str, Series] = {}
    for color in Color:
        mine = sorted((p for p in points if p.color is color), key=lambda p: p.at)
        s = Series(color.value, requests=sum(p.requests for p in mine), errors=sum(p.errors for p in mine))
        for p in mine:
            s.at.append(round(p.at - t0, 3))
            s.weight.append(p.weight if p.weight >= 0 else None)
            s.rps.append(round(p.requests / p.seconds, 2) if p.seconds > 0 else 0.0)
            s.error_rate.append(round(100.0 * p.errors / p.requests, 3) if p.requests else None)
            s.p99_ms.append(round(p.p99 * 1000, 3) if p.p99 is not None else None)
        out[color.value] = s
    return out


def _split(events: Sequence[AuditEvent], series: dict[str, Series], since: float, t0: float) -> list[Shift]:
    """The split over the span: what the first traffic points saw, then each confirmed switch,
    rollback or canary step at the moment the router served it."""
    first = {c: s.weight[0] for c, s in series.items() if s.weight and s.weight[0] is not None}
    shifts = [Shift(since, {c: int(w) for c, w in first.items()})] if len(first) == len(Color) else []
    for e in events:
        if e.to_color is None:
            continue
        if e.action in ("switch", "rollback", "resume") and e.outcome == "ok":
            timing = e.find(SwitchTiming)
            at, weights = (timing.routed_at if timing else e.at), Weights.all_to(e.to_color)
        elif e.action == "canary" and e.outcome == "shifted" and (m := _PERCENT.search(e.reason)):
            at, weights = e.at, Weights.split(Color(m.group(2)), int(m.group(1)))
        else:
            continue
        if not shifts and e.from_color is not None:  # before the first switch, its source served everything
            shifts.append(Shift(since, Weights.all_to(e.from_color).as_dict()))
        shifts.append(Shift(round(at - t0, 3), weights.as_dict()))
    return shifts


def _markers(events: Sequence[AuditEvent], t0: float) -> Iterable[Marker]:
    for e in events:
        at = e.at - t0
        version = e.versions.get(e.to_color.value) if e.to_color else None
        match e.action, e.outcome:
            case "deploy", "started":
                yield Marker(at, "deploy", f"deploy {version or ''} → {e.to_color or ''}".replace("  ", " "))
            case "validate", "started":
                yield Marker(at, "validate", "validate")
            case "validate", ("ok" | "failed") as outcome:
                yield Marker(at, "validate", "validated" if outcome == "ok" else "validation failed")
            case ("switch" | "rollback") as action, "ok":
                timing = e.find(SwitchTiming)
                routed = (timing.routed_at - t0) if timing else at
                fired = e.find(TriggerFired)
                if fired is not None:
                    yield Marker((fired.detected_at or e.at) - t0, "trigger", f"trigger {fired.trigger}")
                yield Marker(routed, action, f"{action} → {e.to_color}")
            case "canary", "shifted":
                yield Marker(at, "switch", e.reason.removeprefix("router serves ") or "canary step")
            case ("deploy" | "switch" | "canary"), "failed":
                yield Marker(at, "abort", f"{e.action} failed")
            case "stabilize", ("ok" | "ended"):
                yield Marker(at, "watch", "watch passed" if e.outcome == "ok" else "watch ended")
            case _:
                continue


def _checks(events: Sequence[AuditEvent], t0: float) -> list[CheckRow]:
    rows: list[CheckRow] = []
    step = {"validate": "validate", "stabilize": "watch", "canary": "canary"}
    for e in events:
        for m in e.measurements():
            rows.append(_row(e.at - t0, step.get(e.action, e.action), m))
        fired = e.find(TriggerFired)
        if fired is not None:
            at = (fired.detected_at or e.at) - t0
            rows += [_row(at, "trigger", m) for m in fired.judgements]
    return rows


def _row(at: float, step: str, m: Measurement) -> CheckRow:
    value = round(m.value, 6) if isinstance(m.value, float) else m.value
    return CheckRow(round(at, 3), step, m.check, m.verdict.value, value, m.detail)
