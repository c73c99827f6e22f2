"""Typed values in, text out: progress events, the status view, the audit log.

Plain text with ANSI colors on a terminal; rich is loaded only for the tables (status, history),
so commands that print a line or two start fast.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO

from turnout.control.api import StatusView
from turnout.events import (
    Aborting,
    Accepted,
    AuditEvent,
    Measured,
    Noop,
    Notice,
    ProgressEvent,
    Recorded,
    Starting,
    SwitchTiming,
    Watching,
)
from turnout.model import Color, Verdict

_ANSI = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1"}


def paint(text: str, style: str, stream: TextIO = sys.stderr) -> str:
    return f"\033[{_ANSI[style]}m{text}\033[0m" if stream.isatty() else text


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def event_line(event: ProgressEvent) -> str | None:
    """One line per progress event (None: nothing worth a line)."""
    match event:
        case Measured(measurement=m):
            mark = {Verdict.PASS: paint("✓", "green"), Verdict.FAIL: paint("✗", "red"),
                    Verdict.ERROR: paint("!", "red")}.get(m.verdict, "?")
            return f"  {mark} {m.check}: {m.detail}"
        case Starting(color=color, version=version):
            return f"→ starting {version} on {color}"
        case Watching(color=color, window=window, url=url):
            return (f"→ watching {color} for {window:g}s at {url}; a trigger rolls back "
                    "(Ctrl-C leaves the watch running in the agent)")
        case Noop(reason=reason):
            return f"· {reason}"
        case Aborting(color=color):
            return f"· stopping {color}"  # why is in the error that follows: said once
        case Accepted(operation=operation, kind=kind):
            return paint(f"· {kind} {operation} (Ctrl-C detaches; it goes on in the agent)", "dim")
        case Notice(text=text):
            return f"{paint('!', 'yellow')} {text}"
        case Recorded(event=audit):
            timing = audit.find(SwitchTiming)
            if audit.action in ("switch", "rollback") and audit.outcome == "ok":
                ms = f"{timing.ms} ms" if timing else "?"
                return f"{paint('⇄', 'green')} {audit.from_color} → {audit.to_color}: router serves it ({ms})"
            if audit.outcome == "failed" and audit.action in ("deploy", "switch", "rollback", "canary"):
                return None  # the error at the end says why, once
            reason = audit.reason.splitlines()[0] if audit.reason else ""
            return f"· {audit.name}" + (f": {reason}" if reason else "")
    return None


def print_event(event: ProgressEvent) -> None:
    line = event_line(event)
    if line is not None:
        err(line)


def print_status(d: StatusView) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Console(highlight=False, emoji=False)
    r = d.router
    agent = f"agent pid {d.agent.pid}" if d.agent.running else (
        f"[red]agent pid {d.agent.pid} not answering[/]" if d.agent.pid else "[yellow]agent not running[/]")
    out.print(f"[bold]{d.app}[/]  phase {d.phase}  active [bold]{d.active}[/]  ({agent})")
    table = Table("color", "desired", "running", "instances", "healthy", "warm", "traffic: state", "router")
    for color in Color:
        env = d.environments[color]
        share = f"{r.serving[color]}%" if r.serving else "?"
        table.add_row(color, env.version or "-", env.running_version or "-", str(env.instances), str(env.healthy),
                      "yes" if env.warm else "no", f"{d.stored_weights[color]}%", share)
    out.print(table)
    if d.operation:
        o = d.operation
        left = f", {max(o.deadline - time.time(), 0):.0f}s left" if o.deadline else ""
        out.print(f"operation {o.id}: {o.kind} {o.version or ''} step {o.step}{left} (by {o.actor or '?'})")
    for drift in d.drifts:
        out.print(f"[red]drift[/] {drift.what}: {drift.detail} (for {time.time() - drift.since:.0f}s)")
        if drift.repair_error:
            wait = max(drift.retry_at - time.time(), 0)
            out.print(f"  the last repair failed: {drift.repair_error}; next try in {wait:.0f}s")
    if d.bad:
        out.print(f"rolled back by a trigger (switching to them needs --force): {', '.join(d.bad)}")
    if d.agent.config_changed:
        out.print("[yellow]turnout.toml changed since the agent loaded it: `turnout reload` applies it[/]")
    if r.reachable:
        out.print(f"router {r.kind}: production {r.production_url}  test ({r.test}) {r.test_url}")
    else:
        out.print(f"[red]router {r.kind} unreachable[/]: {r.error}")
    if d.drift and r.serving:
        out.print(f"[red]the router serves {_split(r.serving)} but the state says {_split(d.stored_weights)}[/]")
    if d.lock:
        out.print(f"lock held by {d.lock.holder} ({d.lock.purpose})")


def _split(weights: dict[Color, int]) -> str:
    return "/".join(f"{c} {weights[c]}%" for c in Color)


def print_history(events: Sequence[AuditEvent]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("when", "who", "action", "outcome", "from→to", "reason")
    for e in events:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at))
        move = f"{e.from_color or ''}→{e.to_color or ''}" if e.from_color or e.to_color else ""
        table.add_row(when, e.actor.split(" ")[0], e.action, e.outcome, move, e.reason[:80])
    Console(highlight=False, emoji=False).print(table)
