"""Thin commands over the agent API and the state store; one top-level error handler.

Exit codes: 0 ok, 1 generic turnout error, 2 config/usage, 3 lock held, 4 validation failed,
5 illegal transition/stale state, 6 not ready, 7 router, 8 runtime, 9 rollback failed,
10 agent not running, 11 migration; 70 internal bug (traceback printed).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from turnout import config as config_mod
from turnout.cli.migrate import migrate, set_rollback_probe
from turnout.control.client import AgentClient
from turnout.control.local import Stack, actor
from turnout.errors import ConfigError, TurnoutError
from turnout.migrate import rollback_window_open
from turnout.model import Color
from turnout.store import SqliteStore

err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
out = Console(highlight=False, emoji=False)
COLORS = click.Choice([c.value for c in Color])


class Ctx:
    def __init__(self, config: str | None, debug: bool) -> None:
        self.config_path, self.debug = config, debug

    def cfg(self) -> config_mod.Config:
        return config_mod.load(self.config_path)

    def path(self) -> str:
        return str(config_mod.find(self.config_path).resolve())


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", envvar="TURNOUT_CONFIG", help="turnout.toml to use (default: search upwards).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="turnout")
@click.pass_context
def main_group(ctx: click.Context, config: str | None, debug: bool) -> None:
    """turnout: blue-green deployments with an atomic switch and verified rollback."""
    ctx.obj = Ctx(config, debug)


def _print_event(event: dict[str, Any]) -> None:
    step = event.get("step", "")
    if step == "measured":
        mark = {"pass": "[green]✓[/]", "fail": "[red]✗[/]", "error": "[red]![/]"}.get(event["verdict"], "?")
        err.print(f"  {mark} {event['check']}: {event['detail']}")
    elif step == "check":
        return
    elif step == "start":
        err.print(f"→ starting {event['version']} on {event['color']}")
    elif step == "watch":
        err.print(f"→ watching {event['color']} for {event['window']:g}s at {event['url']}; a trigger rolls back "
                  "(Ctrl-C leaves the watch running in the agent)")
    elif step.endswith(":ok") and step.split(":")[0] in ("switch", "rollback"):
        ms = event["measurements"][0]["value"] if event.get("measurements") else "?"
        err.print(f"[green]⇄[/] {event['from']} → {event['to']}: router serves it ({ms} ms)")
    else:
        reason = f": {event['reason']}" if event.get("reason") else ""
        err.print(f"· {step}{reason}")


def _op(ctx: Ctx, path: str, body: dict[str, Any]) -> Any:
    client = AgentClient(ctx.cfg())
    return client.call(path, {**body, "actor": actor()}, on_event=_print_event)


@main_group.command()
@click.option("--name", default=None, help="App name (default: this folder's name).")
@click.option("--force", is_flag=True, help="Overwrite an existing turnout.toml.")
def init(name: str | None, force: bool) -> None:
    """Write a commented starter turnout.toml."""
    target = Path(config_mod.DEFAULT_FILE)
    if target.exists() and not force:
        raise ConfigError(f"{target} exists already", hint="use --force to overwrite it")
    app = name or "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in Path.cwd().name) or "app"
    from turnout.cli.demo import APP

    example = str(APP) if APP.is_file() else "app.py"
    target.write_text(config_mod.STARTER.format(name=app, python=sys.executable, app=example))
    out.print(f"wrote {target}; check it with `turnout check-config`")


@main_group.command("check-config")
@pass_ctx
def check_config(ctx: Ctx) -> None:
    """Validate turnout.toml and every driver's options without acting."""
    cfg = ctx.cfg()
    stack = Stack.build(cfg)
    asyncio.run(stack.close())
    out.print(f"{ctx.path()}: ok (app {cfg.app.name}, router {cfg.router.kind}, runtime {cfg.runtime.kind}, "
              f"{len(stack.checks)} checks)")


@main_group.command()
@click.option("--version", "version", help="Release to start on blue when nothing is deployed yet.")
@click.option("--detach", "-d", is_flag=True, help="Run the agent in the background.")
@pass_ctx
def up(ctx: Ctx, version: str | None, detach: bool) -> None:
    """Start the agent: proxy, runtime and the live release (adopts what a crashed agent left)."""
    cfg = ctx.cfg()
    client = AgentClient(cfg)
    if client.running():
        out.print(f"agent already running (pid {client.pid()})")
        return
    if detach:
        pid = client.start_detached(ctx.path(), version)
        st = client.status()
        out.print(f"agent up (pid {pid}): {st['active']} serves {st['environments'][st['active']]['version']} "
                  f"at {st['router'].get('production_url')}")
        return
    from turnout.control.server import serve

    sys.exit(asyncio.run(serve(ctx.path(), version)))


@main_group.command()
@pass_ctx
def down(ctx: Ctx) -> None:
    """Stop the agent and everything it started (also what a killed agent left behind)."""
    cfg = ctx.cfg()
    client = AgentClient(cfg)
    pid = client.pid()
    if client.running():
        client.call("/down", {})
        deadline = time.monotonic() + cfg.router.drain + cfg.runtime.stop_grace + 15
        while pid and client.pid() and time.monotonic() < deadline:
            time.sleep(0.1)
        out.print("agent stopped")
        return

    async def cleanup() -> None:
        stack = Stack.build(cfg)
        for color in Color:
            await stack.runtime.stop(color)
        await stack.router.release()
        await stack.close()

    asyncio.run(cleanup())
    out.print("agent was not running; stopped what it had left")


def _parse_steps(ctx: click.Context, param: click.Parameter, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        steps = [int(p) for p in value.split(",") if p.strip()]
    except ValueError:
        raise click.BadParameter(f"expected percentages like 5,25,50,100, got {value!r}") from None
    if not steps or any(not 0 < p <= 100 for p in steps) or steps != sorted(set(steps)):
        raise click.BadParameter(f"expected rising percentages from 1 to 100, got {value!r}")
    return steps


STEPS = click.option("--steps", callback=_parse_steps, metavar="5,25,50,100",
                     help="Canary: shift traffic in these steps, watching each (router must split).")


@main_group.command()
@click.argument("version")
@click.option("--no-switch", is_flag=True, help="Stop after validation; switch later with `turnout switch`.")
@click.option("--pause-before-switch", "pause", is_flag=True,
              help="Validate, then wait for `turnout promote` or `turnout abort`.")
@STEPS
@pass_ctx
def deploy(ctx: Ctx, version: str, no_switch: bool, pause: bool, steps: list[int] | None) -> None:
    """Deploy VERSION to the idle color, validate it, and switch all traffic to it."""
    result = _op(ctx, "/deploy", {"version": version, "switch": not no_switch, "pause": pause, "steps": steps})
    if pause:
        idle = Color(result["active"]).other.value
        out.print(f"{version}: validated on {idle}; "
                  "`turnout promote` to switch, `turnout abort` to stop it")
    elif no_switch:
        out.print(f"{version}: validated, not switched")
    else:
        out.print(f"{version}: live on {result['active']}")


@main_group.command()
@STEPS
@pass_ctx
def promote(ctx: Ctx, steps: list[int] | None) -> None:
    """Continue a paused deploy: switch (through canary steps if given) and watch."""
    result = _op(ctx, "/promote", {"steps": steps})
    out.print(f"{result['active']} serves all traffic")


@main_group.command()
@click.option("--reason", default="", help="Why, for the audit log.")
@pass_ctx
def abort(ctx: Ctx, reason: str) -> None:
    """Stop a paused (validated, not switched) release; the live color keeps serving."""
    result = _op(ctx, "/abort", {"reason": reason})
    out.print(f"aborted; {result['active']} still serves all traffic")


@main_group.command()
@pass_ctx
def validate(ctx: Ctx) -> None:
    """Run the checks against the idle color again (switches nothing)."""
    results = _op(ctx, "/validate", {})
    if any(m["verdict"] != "pass" for m in results):
        raise TurnoutError("validation failed", hint="see the checks above")
    out.print("all checks passed")


@main_group.command()
@click.option("--to", type=COLORS, help="Color to send all traffic to (default: the idle one).")
@pass_ctx
def switch(ctx: Ctx, to: str | None) -> None:
    """Switch all traffic to the other (warm) color at once."""
    result = _op(ctx, "/switch", {"to": to})
    out.print(f"{result['active']} serves all traffic")


@main_group.command()
@click.option("--reason", default="", help="Why, for the audit log.")
@pass_ctx
def rollback(ctx: Ctx, reason: str) -> None:
    """Switch back to the previous color while it is still warm."""
    result = _op(ctx, "/rollback", {"reason": reason})
    out.print(f"rolled back: {result['active']} serves all traffic")


@main_group.command()
@click.argument("color", type=COLORS, required=False)
@pass_ctx
def warm(ctx: Ctx, color: str | None) -> None:
    """Scale a cold color (default: the idle one) back up so it can be switched to."""
    _op(ctx, "/warm", {"color": color})
    out.print("warm")


@main_group.command("scale-down")
@click.argument("color", type=COLORS, required=False)
@pass_ctx
def scale_down(ctx: Ctx, color: str | None) -> None:
    """Scale the idle color down now instead of waiting for the retention window."""
    _op(ctx, "/scale-down", {"color": color})
    out.print("scaled down")


@main_group.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def status(ctx: Ctx, as_json: bool) -> None:
    """What serves where, read back from the router and the instances."""
    cfg = ctx.cfg()
    client = AgentClient(cfg)
    if client.running():
        data = client.status()
    else:
        async def local() -> dict[str, Any]:
            stack = Stack.build(cfg)
            try:
                return await stack.status(agent={"running": False, "stale_pid": client.pid_file.exists()})
            finally:
                await stack.close()

        data = asyncio.run(local())
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    _print_status(data)


def _print_status(d: dict[str, Any]) -> None:
    r = d["router"]
    agent = f"agent pid {d['agent']['pid']}" if d["agent"].get("running") else "[yellow]agent not running[/]"
    out.print(f"[bold]{d['app']}[/]  phase {d['phase']}  active [bold]{d['active']}[/]  ({agent})")
    table = Table("color", "version", "instances", "healthy", "warm", "traffic")
    for color, env in d["environments"].items():
        share = f"{r['serving'][color]}%" if r.get("serving") else "?"
        table.add_row(color, str(env["version"]), str(env["instances"]), str(env["healthy"]), str(env["warm"]), share)
    out.print(table)
    if r.get("reachable"):
        out.print(f"router {r['kind']}: production {r['production_url']}  test ({r['test']}) {r['test_url']}")
    else:
        out.print(f"[red]router {r['kind']} unreachable[/]: {r.get('error')}")
    if d.get("drift"):
        out.print(f"[red]the router serves {r['serving']} but the state says {d['stored_weights']}[/]")
    if d.get("lock"):
        out.print(f"lock held by {d['lock']['holder']} ({d['lock']['purpose']})")


@main_group.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True)
@pass_ctx
def history(ctx: Ctx, as_json: bool, limit: int) -> None:
    """The append-only audit log: who switched what, when, and why."""
    cfg = ctx.cfg()
    store = SqliteStore(cfg.state_dir() / "state.db")
    events = [e.as_dict() for e in store.history(cfg.app.name, limit)]
    store.close()
    if as_json:
        click.echo(json.dumps(events, indent=2))
        return
    table = Table("when", "who", "action", "outcome", "from→to", "reason")
    for e in events:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["at"]))
        move = f"{e['from'] or ''}→{e['to'] or ''}" if e["from"] or e["to"] else ""
        table.add_row(when, e["actor"].split(" ")[0], e["action"], e["outcome"], move, e["reason"][:80])
    out.print(table)


def _rollback_window_open(cfg: config_mod.Config) -> bool:
    store = SqliteStore(cfg.state_dir() / "state.db")
    try:
        return rollback_window_open(store.load(cfg.app.name), cfg.deploy.retention)
    finally:
        store.close()


set_rollback_probe(_rollback_window_open)
main_group.add_command(migrate)


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        main_group.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TurnoutError as exc:
        if debug:
            raise
        err.print(f"[red]error:[/] {exc}", soft_wrap=True)
        if exc.hint:
            err.print(f"hint: {exc.hint}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except Exception:
        err.print_exception()
        err.print("[red]this is a bug in turnout; please report it with the traceback above[/]")
        sys.exit(70)


@main_group.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--requests", "min_requests", default=20_000, show_default=True,
              help="Keep the load going until at least this many requests went through.")
@click.option("--concurrency", default=16, show_default=True, help="Keep-alive connections of the load.")
@click.option("--keep", is_flag=True, help="Keep the temporary folder (config, state, logs).")
@click.option("--scenario", type=click.Choice(["happy", "bad-release"]), default="happy", show_default=True,
              help="bad-release: the new version breaks after the switch and is rolled back automatically.")
def demo(as_json: bool, min_requests: int, concurrency: int, keep: bool, scenario: str) -> None:
    """Run a full blue-green cycle under load in a temporary folder, then clean up."""
    from turnout.cli.demo import run as run_demo

    def log(msg: str) -> None:
        err.print(f"[dim]demo[/] {msg}")

    summary = asyncio.run(run_demo(scenario=scenario, min_requests=min_requests, concurrency=concurrency,
                                       keep=keep, log=log))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        out.print(f"{summary['requests']} requests, {summary['failed']} failed, {summary['switches']} switches, "
                  f"{summary['rollbacks']} rollbacks; time to full switch ≤ {summary['max_full_switch_ms']} ms; "
                  f"{summary['rps']} req/s, p99 {summary['p99_ms']} ms")
        if scenario == "bad-release":
            out.print(f"rolled back automatically: {summary['rolled_back']} (trigger {summary['trigger']}); "
                      f"first failing request → traffic back on blue: {summary['detect_to_restore_ms']} ms")
    ok = summary.get("rolled_back") if scenario == "bad-release" else summary["failed"] == 0
    if not ok:
        sys.exit(1)


@main_group.command()
@click.argument("url")
@click.option("--rps", type=float, default=None, help="Target request rate (default: as fast as possible).")
@click.option("--duration", type=float, default=10.0, show_default=True, help="Seconds.")
@click.option("--concurrency", type=int, default=8, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def load(url: str, rps: float | None, duration: float, concurrency: int, as_json: bool) -> None:
    """Send bounded keep-alive load to URL and report latency percentiles and errors."""
    from turnout.measure.loadgen import main_load

    sys.exit(main_load(url, rps, duration, concurrency, as_json))


if __name__ == "__main__":
    main()
