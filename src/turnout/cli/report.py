"""`turnout report [OPERATION]`: one deploy's picture (traffic split, request rate, error rate and p99
per color, its steps marked) and its checks, as HTML, PNG or JSON.

The inputs come from the agent's API when it runs (operations, audit log, traffic points), else
from the state store. The agent serves traffic points after a time without an end, so a span older
than an hour is read from the store even while the agent runs (SQLite and PostgreSQL both allow a
reader beside the agent): a week-old deploy must not stream a week of points through the socket.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from turnout.cli.commands import Ctx, pass_ctx
from turnout.control.api import OperationView
from turnout.errors import AgentUnavailable, TurnoutError, UsageError
from turnout.events import AuditEvent
from turnout.locations import peek
from turnout.model import Color, Operation, TrafficPoint
from turnout.report import data

FORMATS = ("html", "png", "json")
AGENT_SPAN = 3600.0  # spans newer than this come through the agent; older ones from the store
HISTORY = 2000  # audit entries read first; more only when the span reaches further back


def gather(ctx: Ctx, operation: str | None, margin: float, until: float | None = None) -> data.Report:
    """The report of `operation` (default: the latest), with `margin` seconds of traffic around it;
    `until` (wall clock) stretches the span's end (the demo's whole story)."""
    _, app = peek(ctx.file())
    client = ctx.client()
    if client.running():
        try:
            infos = [_info(o) for o in client.operations()]
            op = _pick(infos, operation, app, missing_ok=True)  # older ones: the store has them all
            if op is not None:
                since, end = _span(op, margin, until)
                if since >= time.time() - AGENT_SPAN:
                    events = _events(client.history, since)
                    points = [_point(p) for p in client.traffic(since) if p["at"] <= end]
                    return _build(app, op, events, points, since=since, until=end)
        except AgentUnavailable:  # it went away meanwhile: read the store
            pass
    from turnout.control.local import open_store

    cfg = ctx.cfg()
    store = open_store(cfg)
    try:
        op = _pick([_info(o) for o in store.operations(app, limit=1000)], operation, app)
        assert op is not None
        since, end = _span(op, margin, until)
        return _build(app, op, _events(lambda n: store.history(app, n), since), store.traffic(app, since, end),
                      since=since, until=end)
    finally:
        store.close()


def _info(op: Operation | OperationView) -> data.OperationInfo:
    return data.OperationInfo(id=op.id, kind=op.kind, state=op.state.value, version=op.version, actor=op.actor,
                              message=op.message, created_at=op.created_at, updated_at=op.updated_at)


def _pick(ops: Sequence[data.OperationInfo], operation: str | None, app: str,
          missing_ok: bool = False) -> data.OperationInfo | None:
    if not ops:
        raise UsageError(f"no operation recorded for {app} yet", hint="`turnout deploy VERSION` starts one")
    if operation is None:
        return max(ops, key=lambda o: o.created_at)
    found = next((o for o in ops if o.id == operation), None)
    if found is None and not missing_ok:
        latest = ", ".join(o.id for o in sorted(ops, key=lambda o: -o.created_at)[:5])
        raise UsageError(f"no operation {operation} for {app} (the latest: {latest})",
                         hint="`turnout ops` lists them")
    return found


def _span(op: data.OperationInfo, margin: float, until: float | None) -> tuple[float, float]:
    since, end = data.span(op, time.time(), margin)
    return since, max(end, until or end)


def _events(fetch: Callable[[int], list[AuditEvent]], since: float) -> list[AuditEvent]:
    events = fetch(HISTORY)
    if len(events) >= HISTORY and events[0].at > since:
        events = fetch(100_000)
    return events


def _point(p: dict[str, Any]) -> TrafficPoint:
    """A point as the agent's /v1/traffic serves it."""
    return TrafficPoint(at=p["at"], color=Color(p["color"]), seconds=p["seconds"], requests=p["requests"],
                        errors=p["errors"], p99=p["p99"], weight=p["weight"])


def _build(app: str, op: data.OperationInfo, events: list[AuditEvent], points: list[TrafficPoint], *,
           since: float, until: float) -> data.Report:
    report = data.build(app, op, events, points, since=since, until=until)
    if not any(s.at for s in report.series.values()):
        span = f"{time.strftime('%H:%M:%S', time.localtime(since))}-{time.strftime('%H:%M:%S', time.localtime(until))}"
        raise TurnoutError(f"no traffic was recorded during {op.id} ({span})",
                           hint="the agent records traffic once a second while it runs, from routers that count "
                                "it (builtin, haproxy, nginx, envoy); points are kept a week")
    return report


def render(report: data.Report, fmt: str) -> bytes:
    if fmt == "json":
        return (json.dumps(report.as_json(), indent=2) + "\n").encode()
    from turnout.report import plot

    png = plot.png(report)
    if fmt == "png":
        return png
    from turnout.report import page

    return page.render(report, png).encode()


@click.command()
@click.argument("operation", required=False)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write it (default: turnout-report-OPERATION.html|png; json to stdout).")
@click.option("--margin", default="10s", show_default=True, help="Traffic shown before and after the operation.")
@pass_ctx
def report(ctx: Ctx, operation: str | None, fmt: str, output: Path | None, margin: str) -> None:
    """One deploy's picture: traffic split, request rate, error rate and p99 per color over time, its
    steps marked (deploy, validate, switch, trigger, rollback), and the checks with their measured
    values. OPERATION defaults to the latest (`turnout ops` lists them)."""
    from turnout.config import parse_duration

    try:
        seconds = parse_duration(margin)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--margin") from None
    result = gather(ctx, operation, seconds)
    body = render(result, fmt)
    if output is None and fmt == "json":
        sys.stdout.write(body.decode())
        return
    path = output or Path(f"turnout-report-{result.operation.id}.{fmt}")
    path.write_bytes(body)
    points = sum(len(s.at) for s in result.series.values())
    click.echo(f"{path}: {result.operation.id} ({result.operation.state}), {points} traffic points, "
               f"{len(result.markers)} steps, {len(result.checks)} check values")
