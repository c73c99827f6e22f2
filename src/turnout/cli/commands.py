"""Each command fills a request type of the control API, sends it to the agent and renders the result.

The commands that talk to the agent find it from the config file alone (turnout.locations) and
import neither the config schema nor the engine; the ones that work without an agent (init,
check-config, status and down when it is not running, history) load the config and build the stack.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from turnout import locations
from turnout.cli import render
from turnout.control import api
from turnout.control.client import AgentClient, ForeignSocket, Interrupted
from turnout.errors import INTERRUPTED_EXIT, AgentUnavailable, ConfigError, StateDamaged, TurnoutError, UsageError
from turnout.events import Accepted, AuditEvent
from turnout.infra.identity import actor
from turnout.infra.procs import pid_alive
from turnout.model import RELEASE_NAME_RULE, Color, canary_steps, is_release_name

if TYPE_CHECKING:
    from turnout.config import Config

COLORS = click.Choice([c.value for c in Color])


class Ctx:
    def __init__(self, config: str | None, debug: bool) -> None:
        self.config_path, self.debug = config, debug

    def file(self) -> Path:
        return locations.find_config(self.config_path).resolve()

    def cfg(self) -> Config:
        from turnout import config

        return config.load(self.file())

    def client(self) -> AgentClient:
        state, app = locations.peek(self.file())
        return AgentClient(state, app)

    def call(self, command: str, args: api.Request, *, detach: bool = False, abort_on_interrupt: bool = False) -> Any:
        """Send `args` and follow to the result. Ctrl-C detaches from an operation (it goes on in the
        agent), or with `abort_on_interrupt` aborts it."""
        client = self.client()
        try:
            result = client.call(command, args, on_event=render.print_event, detach=detach)
        except Interrupted as exc:
            if exc.operation is None:
                render.err("interrupted: the agent finishes what it started; `turnout status` shows it")
            elif abort_on_interrupt:
                render.err(f"interrupted: aborting {exc.operation}")
                client.call("abort", api.AbortArgs(reason="interrupted (--abort-on-interrupt)", actor=actor()),
                            on_event=render.print_event)
            else:
                render.err(f"detached from {exc.operation}: it goes on in the agent. Follow it with "
                           "`turnout ops --follow`, stop it with `turnout abort`")
            sys.exit(INTERRUPTED_EXIT)
        if isinstance(result, Accepted):
            click.echo(f"{result.operation}: {result.kind} started in the agent; follow it with "
                       f"`turnout ops --follow`, stop it with `turnout abort`")
            sys.exit(0)
        return result


T = TypeVar("T")
pass_ctx = click.make_pass_decorator(Ctx)


def _release_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A release name is checked here, before any agent is asked (the agent checks it again)."""
    if value is not None and not is_release_name(value):
        raise click.BadParameter(f"{value!r} is not a release name: {RELEASE_NAME_RULE}")
    return value


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, imported here: asyncio costs the commands that only talk to the agent ~20 ms."""
    import asyncio

    return asyncio.run(coro)


class LazyGroup(click.Group):
    """A group whose heavy subcommand groups are imported only when they run (`turnout migrate`
    loads the SQL parsers; `turnout --help` should not)."""

    lazy: dict[str, tuple[str, str]] = {  # name -> (module:attribute, one-line help)
        "migrate": ("turnout.cli.migrate:migrate",
                    "Check SQL migrations for blue-green safety; run them in expand/contract phases."),
        "notify": ("turnout.cli.notify:notify", "Notification targets: what was delivered, and a test event."),
        "report": ("turnout.cli.report:report",
                   "One deploy's picture: traffic, errors and p99 per color, its steps, its checks."),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            import importlib

            module, _, attr = self.lazy[cmd_name][0].partition(":")
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][1] if name in self.lazy and name not in self.commands
                 else self.commands[name].get_short_help_str(formatter.width)) for name in self.list_commands(ctx)
                if name in self.lazy or not self.commands[name].hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-c", "--config", envvar="TURNOUT_CONFIG", help="turnout.toml to use (default: search upwards).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.version_option(package_name="turnout")
@click.pass_context
def group(ctx: click.Context, config: str | None, debug: bool) -> None:
    """turnout: blue-green deployments with an atomic switch and verified rollback."""
    ctx.obj = Ctx(config, debug)


# -- local commands ---------------------------------------------------------------------------------------

@group.command()
@click.option("--name", default=None, help="App name (default: this folder's name).")
@click.option("--force", is_flag=True, help="Overwrite an existing turnout.toml.")
def init(name: str | None, force: bool) -> None:
    """Write a commented starter turnout.toml."""
    from turnout.cli.demo import APP
    from turnout.config import starter

    target = Path(locations.DEFAULT_FILE)
    if target.exists() and not force:
        raise ConfigError(f"{target} exists already", hint="use --force to overwrite it")
    app = name or "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in Path.cwd().name) or "app"
    target.write_text(starter(name=app, python=sys.executable, app=str(APP)))
    click.echo(f"wrote {target}; check it with `turnout check-config`")


@group.command("check-config")
@pass_ctx
def check_config(ctx: Ctx) -> None:
    """Validate turnout.toml and every driver's options without acting."""
    from turnout.control.local import Stack

    cfg = ctx.cfg()
    stack = Stack.build(cfg)
    _run(stack.close())
    click.echo(f"{ctx.file()}: ok (app {cfg.app.name}, router {cfg.router.kind}, runtime {cfg.runtime.kind}, "
               f"{len(stack.checks)} checks)")


@group.command()
@click.option("--version", "version", callback=_release_name,
              help="Release to start on blue when nothing is deployed yet.")
@click.option("--detach", "-d", is_flag=True, help="Run the agent in the background.")
@pass_ctx
def up(ctx: Ctx, version: str | None, detach: bool) -> None:
    """Start the agent: proxy, runtime and the live release (adopts what a crashed agent left)."""
    client = ctx.client()
    if client.running():
        click.echo(f"agent already running (pid {client.pid()})")
        return
    ctx.cfg()  # a broken config is reported here, not in the agent's log
    if detach:
        pid = client.start_detached(str(ctx.file()), version)
        st = client.status()
        w = st.stored_weights
        serving = " + ".join(f"{c} {st.environments[c].version} ({w[c]}%)" for c in w if w[c]) \
            if 0 < w[st.active] < 100 else f"{st.active} serves {st.environments[st.active].version}"
        if st.router.reachable:
            click.echo(f"agent up (pid {pid}): {serving} at {st.router.production_url}")
        else:  # up, and repairing it: say so rather than print an empty address
            why = next((d.repair_error for d in st.drifts if d.what == "router" and d.repair_error), st.router.error)
            click.echo(f"agent up (pid {pid}), but the {st.router.kind} router does not answer yet: "
                       f"{why}; the agent keeps trying (`turnout status` shows it)")
        if st.operation:  # an operation a stopped agent left is resumed, not forgotten: say so
            o = st.operation
            click.echo(f"resumed {o.id}: {o.kind} {o.version or ''} at step {o.step}; "
                       f"follow it with `turnout ops --follow`")
        return
    from turnout.control.server import serve

    sys.exit(_run(serve(str(ctx.file()), version)))


@group.command()
@click.option("--keep-serving", is_flag=True,
              help="Stop only the agent: the router and the instances go on serving, a running operation "
                   "resumes at the next `turnout up` (which adopts them, with the config as it is then).")
@pass_ctx
def down(ctx: Ctx, keep_serving: bool) -> None:
    """Stop the agent and everything it started (also what a killed agent left behind)."""
    client = ctx.client()
    pid = client.pid()
    if client.running():
        cfg = ctx.cfg()
        client.call("down", api.DownArgs(actor=actor(), keep_serving=keep_serving))
        deadline = time.monotonic() + (10 if keep_serving else cfg.router.drain + cfg.runtime.stop_grace + 15)
        while pid and pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        click.echo("agent stopped; the router and the instances go on serving: `turnout up` takes over again"
                   if keep_serving else "agent stopped")
        return
    if keep_serving:
        click.echo("agent was not running; nothing stopped")
        return
    from turnout.control.local import Stack

    async def cleanup() -> None:
        stack = Stack.build(ctx.cfg())
        for color in Color:
            await stack.runtime.stop(color)
        await stack.router.release()
        await stack.close()

    _run(cleanup())
    click.echo("agent was not running; stopped what it had left")


@group.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--watch", "-w", is_flag=True, help="Keep showing it, refreshed every --interval, until Ctrl-C.")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.2, 3600),
              help="Seconds between refreshes with --watch.")
@pass_ctx
def status(ctx: Ctx, as_json: bool, watch: bool, interval: float) -> None:
    """What serves where, read back from the router and the instances."""
    if not watch:
        _show_status(ctx, as_json)
        return
    try:
        while True:
            started = time.monotonic()
            if as_json:  # one JSON document per line: a stream other programs can read
                click.echo(api.encode(_status_view(ctx)).decode())
            else:
                view = _status_view(ctx)
                click.echo("\033[H\033[2J", nl=False)  # clear the terminal, then draw again
                render.print_status(view)
                render.err(f"every {interval:g}s · {time.strftime('%H:%M:%S')} · Ctrl-C to stop")
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        return


def _status_view(ctx: Ctx) -> api.StatusView:
    client = ctx.client()
    try:
        view = client.status() if client.sock.exists() else None
    except ForeignSocket:
        raise
    except TurnoutError:
        view = None
    if view is None:
        from turnout.control.local import Stack

        hung = client.pid()  # alive, yet it did not answer: stopped or blocked, not gone
        agent = api.AgentView(running=False, pid=hung, stale_pid=client.pid_file.exists() and not hung)

        async def local() -> api.StatusView:
            stack = Stack.build(ctx.cfg())
            try:
                return await stack.status(agent)
            finally:
                await stack.close()

        view = _run(local())
    return view


def _show_status(ctx: Ctx, as_json: bool) -> None:
    view = _status_view(ctx)
    if as_json:
        click.echo(json.dumps(json.loads(api.encode(view)), indent=2))
        return
    render.print_status(view)


@group.command()
@click.argument("color", type=COLORS)
@click.option("--lines", "-n", default=100, show_default=True, type=click.IntRange(0, 100_000),
              help="Lines of each instance to show first.")
@click.option("--follow", "-f", is_flag=True, help="Then keep printing new lines until Ctrl-C.")
@pass_ctx
def logs(ctx: Ctx, color: str, lines: int, follow: bool) -> None:
    """What COLOR's instances print (through the agent, or from the runtime directly when none runs)."""
    client = ctx.client()
    try:
        for line in client.logs(Color(color), lines, follow):
            click.echo(f"{line['instance']} | {line['text']}")
        return
    except AgentUnavailable:
        pass
    except KeyboardInterrupt:
        return
    from turnout.control.local import local_logs

    try:
        _run(local_logs(ctx.cfg(), Color(color), lines, follow, lambda i, t: click.echo(f"{i} | {t}")))
    except KeyboardInterrupt:
        return


@group.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--verify", is_flag=True, help="Check the audit log's hash chain instead of printing it.")
@pass_ctx
def history(ctx: Ctx, as_json: bool, limit: int, verify: bool) -> None:
    """The append-only audit log: who switched what, when, and why (--verify checks its hash chain)."""
    events: list[AuditEvent] | None = None
    problems: list[str] = []
    if not verify:
        with contextlib.suppress(AgentUnavailable):  # the agent has the store open: no schema to load here
            events = ctx.client().history(limit)
    if events is None:
        from turnout.control.local import open_store

        cfg = ctx.cfg()
        store = open_store(cfg)
        try:
            events = store.history(cfg.app.name, limit)
            problems = store.verify() if verify else []
        finally:
            store.close()
    if verify:
        if problems:
            raise StateDamaged("the audit log was tampered with: " + "; ".join(problems),
                               hint="the entries named were changed, removed or reordered after they were written")
        click.echo("audit log intact: every entry follows the one before it, none was changed")
        return
    if as_json:
        from turnout.events import to_builtins

        click.echo(json.dumps(to_builtins(events), indent=2))
        return
    render.print_history(events)


@group.group()
def token() -> None:
    """Bearer tokens of the HTTP API and dashboard ([api] listen): viewer reads, operator acts."""


@token.command("create")
@click.option("--role", type=click.Choice(["viewer", "operator"]), required=True, help="viewer reads; operator acts.")
@click.option("--name", required=True, help="Who or what uses it (the actor in the audit log).")
@pass_ctx
def token_create(ctx: Ctx, role: str, name: str) -> None:
    """Create a token; it is printed once and stored only as a SHA-256 digest."""
    from turnout.control import auth
    from turnout.control.local import open_store

    cfg = ctx.cfg()
    store = open_store(cfg)
    try:
        secret = auth.create(store, name, role, actor())
    finally:
        store.close()
    render.err(f"token {name!r} ({role}) created; it is shown only now:")
    click.echo(secret)


@token.command("list")
@pass_ctx
def token_list(ctx: Ctx) -> None:
    """The tokens that exist (names and roles; the tokens themselves are not kept)."""
    from turnout.control.local import open_store

    store = open_store(ctx.cfg())
    try:
        found = store.tokens()
    finally:
        store.close()
    for t in found:
        click.echo(f"{t.name}\t{t.role}\tcreated {time.strftime('%Y-%m-%d %H:%M', time.localtime(t.created_at))} "
                   f"by {t.created_by}")
    if not found:
        render.err("no tokens: `turnout token create --role viewer --name NAME`")


@token.command("revoke")
@click.argument("name")
@pass_ctx
def token_revoke(ctx: Ctx, name: str) -> None:
    """Remove a token; it stops working within two seconds."""
    from turnout.control.local import open_store

    store = open_store(ctx.cfg())
    try:
        if not store.revoke_token(name):
            raise UsageError(f"no token named {name!r}", hint="`turnout token list` shows them")
    finally:
        store.close()
    click.echo(f"revoked {name}")


# -- operations the agent runs ----------------------------------------------------------------------------

def _parse_steps(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    try:
        steps = [int(p) for p in value.split(",") if p.strip()]
    except ValueError:
        raise click.BadParameter(f"expected percentages like 5,25,50,100, got {value!r}") from None
    if not steps:
        raise click.BadParameter("expected percentages like 5,25,50,100")
    try:  # the engine checks the rule again (the API and [deploy] steps reach it too): this only answers sooner
        return tuple(canary_steps(steps))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


STEPS = click.option("--steps", callback=_parse_steps, metavar="5,25,50,100",
                     help="Canary: shift traffic in these steps, watching each (router must split).")
DETACH = click.option("--detach", "-d", is_flag=True, help="Return once the agent has started it (it goes on there).")
ON_INTERRUPT = click.option("--abort-on-interrupt", is_flag=True,
                            help="Ctrl-C aborts the operation (default: Ctrl-C detaches, the operation goes on).")
FORCE = click.option("--force", is_flag=True, help="Switch to a release a trigger rolled back, anyway.")


@group.command()
@click.argument("version", callback=_release_name)
@click.option("--no-switch", is_flag=True, help="Stop after validation; switch later with `turnout switch`.")
@click.option("--pause-before-switch", "pause", is_flag=True,
              help="Validate, then wait for `turnout promote` or `turnout abort`.")
@STEPS
@DETACH
@ON_INTERRUPT
@click.option("--force", is_flag=True, help="Deploy a release that a trigger rolled back before.")
@pass_ctx
def deploy(ctx: Ctx, version: str, no_switch: bool, pause: bool, steps: tuple[int, ...] | None,  # noqa: PLR0917
           detach: bool, abort_on_interrupt: bool, force: bool) -> None:
    """Deploy VERSION to the idle color, validate it, switch all traffic to it, and watch it."""
    result: api.DeploymentView = ctx.call("deploy", api.DeployArgs(
        version=version, switch=not no_switch, pause=pause, steps=steps, force=force, actor=actor()),
        detach=detach, abort_on_interrupt=abort_on_interrupt)
    if pause:
        click.echo(f"{version}: validated on {result.idle}; `turnout promote` to switch, `turnout abort` to stop it")
    elif no_switch:
        click.echo(f"{version}: validated, not switched")
    else:
        click.echo(f"{version}: live on {result.active}")


@group.command()
@STEPS
@DETACH
@ON_INTERRUPT
@pass_ctx
def promote(ctx: Ctx, steps: tuple[int, ...] | None, detach: bool, abort_on_interrupt: bool) -> None:
    """Continue a paused deploy (switch, through canary steps if given, and watch), or during canary
    steps go to 100 % now."""
    result: api.DeploymentView = ctx.call("promote", api.PromoteArgs(steps=steps, actor=actor()), detach=detach,
                                          abort_on_interrupt=abort_on_interrupt)
    click.echo(f"{result.active} serves all traffic")


@group.command()
@click.option("--reason", default="", help="Why, for the audit log.")
@pass_ctx
def abort(ctx: Ctx, reason: str) -> None:
    """Stop what is running: a deploy before its switch (the new color stops), canary steps (all traffic
    back), the watch after a switch (a rollback), or a paused release."""
    result: api.DeploymentView = ctx.call("abort", api.AbortArgs(reason=reason, actor=actor()))
    click.echo(f"aborted; {result.active} still serves all traffic")


@group.command()
@pass_ctx
def validate(ctx: Ctx) -> None:
    """Run the checks against the idle color again (switches nothing)."""
    from turnout.model import Verdict

    result: api.Measurements = ctx.call("validate", api.ValidateArgs(actor=actor()))
    if any(m.verdict is not Verdict.PASS for m in result.measurements):
        raise TurnoutError("validation failed", hint="see the checks above")
    click.echo("all checks passed")


@group.command()
@click.option("--to", type=COLORS, help="Color to send all traffic to (default: the one the router does not serve).")
@FORCE
@pass_ctx
def switch(ctx: Ctx, to: str | None, force: bool) -> None:
    """Switch all traffic to the other (warm) color at once."""
    result: api.DeploymentView = ctx.call("switch", api.SwitchArgs(to=Color(to) if to else None, force=force,
                                                                    actor=actor()))
    click.echo(f"{result.active} serves all traffic")


@group.command()
@click.option("--reason", default="", help="Why, for the audit log.")
@FORCE
@pass_ctx
def rollback(ctx: Ctx, reason: str, force: bool) -> None:
    """Switch back to the previous color while it is still warm."""
    result: api.DeploymentView = ctx.call("rollback", api.RollbackArgs(reason=reason, force=force, actor=actor()))
    click.echo(f"rolled back: {result.active} serves all traffic")


@group.command()
@click.option("--reason", default="", help="Why, for the audit log.")
@pass_ctx
def approve(ctx: Ctx, reason: str) -> None:
    """Open the approval gate the running operation waits at ([[gates]] approval = true)."""
    result: api.Done = ctx.call("approve", api.ApproveArgs(reason=reason, actor=actor()))
    click.echo(result.message)


@group.command()
@click.argument("color", type=COLORS, required=False)
@pass_ctx
def warm(ctx: Ctx, color: str | None) -> None:
    """Scale a cold color (default: the idle one) back up so it can be switched to."""
    ctx.call("warm", api.WarmArgs(color=Color(color) if color else None, actor=actor()))
    click.echo("warm")


@group.command("scale-down")
@click.argument("color", type=COLORS, required=False)
@pass_ctx
def scale_down(ctx: Ctx, color: str | None) -> None:
    """Scale the idle color down now instead of waiting for the retention window."""
    ctx.call("scale-down", api.ScaleDownArgs(color=Color(color) if color else None, actor=actor()))
    click.echo("scaled down")


@group.command()
@pass_ctx
def reload(ctx: Ctx) -> None:
    """Apply turnout.toml to the running agent: what can change live is applied, the rest refused with why."""
    result: api.Reloaded = ctx.call("reload", api.ReloadArgs(actor=actor()))
    click.echo(f"applied: {', '.join(result.applied) or 'nothing changed'}")
    if result.refused:
        for line in result.refused:
            render.err(f"refused: {line}")
        sys.exit(ConfigError.exit_code)


@group.command()
@click.option("--follow", "-f", is_flag=True, help="Follow the running operation (or OPERATION) to its end.")
@click.argument("operation", required=False)
@pass_ctx
def ops(ctx: Ctx, follow: bool, operation: str | None) -> None:
    """The operations the agent ran or runs (deploys, promotions): state, step, outcome."""
    client = ctx.client()
    if follow:
        target = operation or next((o.id for o in client.operations() if o.state == "running"), None)
        if target is None:
            click.echo("no operation is running")
            return
        try:
            result: api.DeploymentView = client.follow(target, on_event=render.print_event)
        except Interrupted:
            render.err(f"stopped following {target}; it goes on in the agent")
            sys.exit(INTERRUPTED_EXIT)
        click.echo(f"{target}: {result.active} serves all traffic")
        return
    for o in client.operations():
        when = time.strftime("%H:%M:%S", time.localtime(o.updated_at))
        click.echo(f"{o.id}  {when}  {o.kind:<8} {o.version or '':<14} {o.state:<11} {o.step:<10} {o.message}")


@group.command()
@click.option("--from-router", "from_router", is_flag=True, required=True,
              help="Rebuild the state from what the router serves and what the runtime runs.")
@pass_ctx
def recover(ctx: Ctx, from_router: bool) -> None:
    """Rebuild a lost or damaged state store from what really runs (the agent must be stopped)."""
    from turnout.control.recovery import recover_from_router

    if ctx.client().running():
        raise UsageError("the agent is running: its state is fine", hint="`turnout down` first if you mean it")
    dep, moved = _run(recover_from_router(ctx.cfg(), actor()))
    if moved:
        render.err(f"the damaged state store was moved to {moved}")
    colors = ", ".join(f"{c.value} {dep.version_of(c) or '-'}" for c in Color)
    click.echo(f"recovered: {dep.active} serves {dep.version_of(dep.active)} ({colors}); `turnout up` takes over")


# -- the rest -------------------------------------------------------------------------------------------

@group.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--requests", "min_requests", default=20_000, show_default=True,
              help="Keep the load going until at least this many requests went through.")
@click.option("--concurrency", default=16, show_default=True, help="Keep-alive connections of the load.")
@click.option("--keep", is_flag=True, help="Keep the temporary folder (config, state, logs).")
@click.option("--scenario", type=click.Choice(["happy", "bad-release"]), default="happy", show_default=True,
              help="bad-release: the new version breaks after the switch and is rolled back automatically.")
@click.option("--runtime", type=click.Choice(["process", "docker"]), default="process", show_default=True,
              help="docker: containers on $DOCKER_HOST (or the local engine), of an image built here first.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the deploy report of the run here (demo-report.html, .png, .json).")
def demo(*, as_json: bool, min_requests: int, concurrency: int, keep: bool, scenario: str, runtime: str,
         report_dir: Path | None) -> None:
    """Run a full blue-green cycle under load in a temporary folder, then clean up."""
    from turnout.cli.demo import run as run_demo

    def log(msg: str) -> None:
        render.err(f"{render.paint('demo', 'dim')} {msg}")

    summary = _run(run_demo(scenario=scenario, min_requests=min_requests, concurrency=concurrency,
                            keep=keep, log=log, runtime=runtime, report_dir=report_dir))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"{summary['requests']} requests, {summary['failed']} failed, {summary['switches']} switches, "
                   f"{summary['rollbacks']} rollbacks; time to full switch ≤ {summary['max_full_switch_ms']} ms; "
                   f"{summary['rps']} req/s, p99 {summary['p99_ms']} ms")
        if scenario == "bad-release":
            click.echo(f"rolled back automatically: {summary['rolled_back']} (trigger {summary['trigger']}); "
                       f"first failing request → traffic back on blue: {summary['detect_to_restore_ms']} ms")
    ok = summary.get("rolled_back") if scenario == "bad-release" else summary["failed"] == 0
    if not ok:
        sys.exit(1)


@group.command()
@click.argument("url")
@click.option("--rps", type=float, default=None, help="Target request rate (default: as fast as possible).")
@click.option("--duration", type=float, default=10.0, show_default=True, help="Seconds.")
@click.option("--concurrency", type=int, default=8, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def load(url: str, rps: float | None, duration: float, concurrency: int, as_json: bool) -> None:
    """Send bounded keep-alive load to URL and report latency percentiles and errors."""
    from turnout.measure.loadgen import main_load

    sys.exit(main_load(url, rps, duration, concurrency, as_json))

