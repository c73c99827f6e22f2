"""`turnout notify`: the delivery log of the [[notify]] targets, and a test event to each of them."""

from __future__ import annotations

import json
import logging
import sys
import time

import click

from turnout.cli.commands import Ctx, _run, pass_ctx
from turnout.errors import UsageError


@click.group()
def notify() -> None:
    """Notification targets: what was delivered, and a test event."""


@notify.command("log")
@click.option("--limit", default=50, show_default=True, help="The last N delivery records.")
@click.option("--failed", is_flag=True, help="Only deliveries that failed or were dropped.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def log_command(ctx: Ctx, limit: int, failed: bool, as_json: bool) -> None:
    """Every delivery of every target (state folder, logs/notify.jsonl): outcome, HTTP status,
    attempts, latency, error."""
    from turnout.locations import peek
    from turnout.notify.deliverylog import DeliveryLog

    state, _ = peek(ctx.file())
    records = DeliveryLog.in_state(state).read(limit if not failed else 100_000)
    if failed:
        records = [r for r in records if r.get("outcome") != "delivered"][-limit:]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    if not records:
        click.echo("no deliveries recorded yet")
        return
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.get("at", 0)))
        status = r.get("status") or "-"
        line = (f"{when}  {r.get('target', ''):<24} {r.get('event', ''):<20} {r.get('outcome', ''):<9} "
                f"{status!s:>3}  {r.get('attempts', 0)}x  {r.get('latency_ms', 0):>8.1f} ms")
        click.echo(line + (f"  {r['error']}" if r.get("error") else ""))


@notify.command("test")
@click.argument("name", required=False)
@pass_ctx
def test_command(ctx: Ctx, name: str | None) -> None:
    """Send a `test:ok` event to every target (or the one named) now, and say what became of it."""
    from turnout.control.local import build_notifier
    from turnout.infra.identity import actor

    cfg = ctx.cfg()
    notifier = build_notifier(cfg)
    if notifier is None or not notifier.dispatchers:
        raise UsageError(f"no [[notify]] target in {ctx.file()}", hint="add one: docs/operators.md")
    chosen = [d for d in notifier.dispatchers if name in (None, d.target.name)]
    if not chosen:
        raise UsageError(f"no notify target named {name}",
                         hint=f"targets: {', '.join(d.target.name for d in notifier.dispatchers)}")
    payload = {"event": "test:ok", "app": cfg.app.name, "action": "test", "outcome": "ok", "actor": actor(),
               "at": time.time(), "reason": "a test event from `turnout notify test`", "versions": {},
               "evidence": [], "id": None}

    logging.getLogger("turnout.notify").setLevel(logging.ERROR)  # the outcome is printed below, once

    async def send() -> None:
        for dispatcher in chosen:
            dispatcher.submit(payload)
        for dispatcher in chosen:
            timeout = (dispatcher.target.timeout + dispatcher.target.max_backoff) * (dispatcher.target.retries + 1)
            await dispatcher.stop(timeout)

    _run(send())
    bad = [r for r in notifier.recent if r.outcome != "delivered"]
    for r in notifier.recent:
        click.echo(f"{r.target}: {r.outcome} (HTTP {r.status or '-'}, {r.attempts} attempts, {r.latency_ms:.0f} ms)"
                   + (f": {r.error}" if r.error else ""))
    if bad:
        sys.exit(1)
