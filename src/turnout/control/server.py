"""The agent: hosts the stack, owns the operations, reconciles desired and observed state, serves the
control API on a unix socket.

- A deploy or a promotion is an operation the agent owns: stored step by step, resumed when the agent
  restarts, followed by any number of CLIs (`POST /v1/deploy` follows the one it starts; `GET
  /v1/operations/<id>/follow` follows any). A CLI that goes away ends nothing.
- Commands act on a running operation only when that is their meaning (abort, rollback, switch,
  promote); a refused command has no side effect.
- The reconcile loop compares the store with the router and the runtime every second and after every
  command, and repairs drift (engine/reconciler.py).
- A request that does not decode is a usage error (exit 2); a turnout error keeps its exit code;
  anything else is a bug (exit 70), with its traceback in the agent's log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from turnout import config as config_mod
from turnout.config import Config
from turnout.control import api
from turnout.control.local import Stack, build_notifier
from turnout.control.recorder import TrafficRecorder
from turnout.engine.operation import Intent, IntentKind, OpHandle, new_id
from turnout.engine.orchestrator import Orchestrator
from turnout.engine.reconciler import Reconciler
from turnout.errors import ConfigError, LockHeld, NotReady, StateDamaged, TurnoutError, UsageError
from turnout.events import Accepted, AlertReceived, Notice
from turnout.locations import agent_paths
from turnout.migrate import Migrations
from turnout.model import Color, Operation, OpState
from turnout.runtimes.base import LogSource

log = logging.getLogger("turnout.agent")
NDJSON = "application/x-ndjson"
AGENT = "turnout agent"
LIVE = frozenset({"checks", "analysis", "stabilize", "deploy", "hooks", "webhooks", "notify", "database"})
# What a restart of the agent alone applies, the router and the instances serving meanwhile: all but
# the router (adopted as it runs), the state store and the app's name, which need everything restarted.
AGENT_RESTART = "`turnout down --keep-serving` then `turnout up` applies it with traffic flowing"
RESTART_HINT = {
    "router": "`turnout down` then `turnout up` applies it (the router restarts: traffic stops meanwhile)",
    "state": "`turnout down` then `turnout up` applies it (the agent then uses the other store)",
    "app": "`turnout down` then `turnout up` applies it (the state is kept per app name)",
    "runtime": AGENT_RESTART + " (running instances are adopted as they are; a new command or instance count "
                               "applies from the next deploy)",
}
BUSY_STEPS = frozenset({"queued", "starting", "validating", "baseline", "promoting", "canary", "switching"})
FEEDS_KEPT = 20


@dataclass
class Feed:
    """The frames of one command or operation, for everyone who follows it (late followers replay)."""

    frames: list[api.Frame] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def done(self) -> bool:
        return bool(self.frames) and self.frames[-1].event is None

    async def put(self, frame: api.Frame) -> None:
        async with self.changed:
            self.frames.append(frame)
            self.changed.notify_all()

    def put_nowait(self, frame: api.Frame) -> None:
        self.frames.append(frame)
        asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self.changed:
            self.changed.notify_all()


@dataclass
class Running:
    """The operation in flight: its handle, its task, and its feed."""

    handle: OpHandle
    task: asyncio.Task[Any]
    feed: Feed

    @property
    def step(self) -> str:
        return self.handle.op.step

    def describe(self) -> str:
        op = self.handle.op
        return f"{op.id} ({op.kind} {op.version or ''}, step {op.step})".replace(" ,", ",")


def file_hash(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


class Agent:
    def __init__(self, stack: Stack, config_file: Path, log_file: Path) -> None:
        self.stack, self.config_file, self.log_file = stack, config_file, log_file
        self.loaded = file_hash(config_file)
        self.started = time.time()
        self.stopping = asyncio.Event()
        self.keep_serving = False  # `down --keep-serving`: leave the router, the instances and any operation
        self.poke = asyncio.Event()  # reconcile now
        self.acting = asyncio.Lock()  # a short command and a reconcile pass never interleave
        self.running: Running | None = None
        self.feeds: dict[str, Feed] = {}
        self.reconciler = Reconciler(self.stack.orchestrator(actor=AGENT), busy=self.busy)
        self.recorder = TrafficRecorder(stack.router, stack.store, stack.cfg.app.name)
        self._tasks: set[asyncio.Task[Any]] = set()

    def busy(self) -> bool:
        return self.running is not None and self.running.step in BUSY_STEPS

    def config_changed(self) -> bool:
        return file_hash(self.config_file) != self.loaded

    # -- start ------------------------------------------------------------------------------------------
    async def start(self, version: str | None) -> None:
        """Adopt what a previous agent left, never start over a running deployment, resume operations."""
        orch = self.stack.orchestrator(actor=AGENT)
        await self.stack.runtime.recover()
        dep = orch.current()
        if dep.version_of(dep.active) is None:
            await self._refuse_to_start_over()
            if version is None:
                raise UsageError("nothing is deployed yet: the first `turnout up` needs --version V")
            await orch.bootstrap(version)
        else:
            statuses = {c: await self.stack.runtime.status(c) for c in Color}
            with contextlib.suppress(TurnoutError):  # a router that is down is the reconciler's to repair
                await self.stack.router.prepare({c: s.endpoints for c, s in statuses.items()})
            running = [op for op in self.stack.store.operations(self.stack.cfg.app.name) if not op.done]
            for op in running[1:]:  # only one can have been running; older ones were cut short for good
                OpHandle(self.stack.store, op).finish(OpState.ABORTED, "superseded: another operation was running")
            if running:
                self._launch(OpHandle(self.stack.store, running[0]), None, resume=True)
            else:
                await orch.resume()
        await self.reconcile_once()

    async def _refuse_to_start_over(self) -> None:
        """The store knows no deployment: refuse if something runs anyway (a lost or damaged state)."""
        found = [f"{c.value} runs {len(s.instances)} instances" for c in Color
                 if (s := await self.stack.runtime.status(c)).instances]
        with contextlib.suppress(TurnoutError):
            state = await self.stack.router.observe()
            if any(state.backends.values()):
                found.append(f"the router serves {state.weights.as_dict()}")
        if found:
            raise StateDamaged(f"the state store knows no deployment of {self.stack.cfg.app.name}, but "
                               f"{' and '.join(found)}: refusing to start over a running deployment",
                               hint="`turnout recover --from-router` rebuilds the state from what runs")

    # -- operations -------------------------------------------------------------------------------------
    def _launch(self, handle: OpHandle, args: api.Request | None, *, resume: bool = False) -> Running:
        feed = self._feed(handle.id)
        actor = args.actor if args and args.actor else AGENT
        orch = self.stack.orchestrator(lambda e: feed.put_nowait(api.Frame(event=e)), actor=actor)

        async def run() -> api.Result:
            if resume:
                dep = await orch.resume_operation(handle)
            elif isinstance(args, api.DeployArgs):
                dep = await orch.deploy(args.version, switch=args.switch, pause=args.pause, steps=args.steps,
                                        force=args.force, op=handle)
            elif isinstance(args, api.PromoteArgs):
                dep = await orch.promote(args.steps, op=handle)
            elif isinstance(args, api.SwitchArgs):
                dep = await orch.watch_switch(handle)
            else:
                raise UsageError(f"{type(args).__name__} is not an operation")
            return api.DeploymentView.of(dep)

        task = asyncio.create_task(self._execute(run(), feed, orch))
        running = Running(handle, task, feed)
        self.running = running
        self._track(task)
        task.add_done_callback(lambda _: self._ended(running))
        feed.put_nowait(api.Frame(event=Accepted(operation=handle.id, kind=handle.op.kind)))
        return running

    def _ended(self, running: Running) -> None:
        if self.running is running:
            self.running = None
        if not running.handle.op.done:  # a bug or a cancellation left it open: never lose it silently
            running.handle.finish(OpState.FAILED, "ended without a verdict (see the agent log)", 70)
        self.poke.set()

    def _feed(self, key: str) -> Feed:
        feed = self.feeds[key] = Feed()
        for old in list(self.feeds)[:-FEEDS_KEPT]:
            del self.feeds[old]
        return feed

    async def _execute(self, work: Any, feed: Feed, orch: Orchestrator) -> None:
        try:
            result = await work
            await feed.put(api.Frame(result=result))
        except TurnoutError as exc:
            await feed.put(api.Frame(error=api.OpError(type=type(exc).__name__, message=str(exc), hint=exc.hint,
                                                       exit_code=exc.exit_code)))
        except asyncio.CancelledError:
            await feed.put(api.Frame(error=api.OpError(type="Aborted", message="stopped", exit_code=14)))
            raise
        except Exception as exc:
            log.exception("%s failed with a bug", orch.actor)
            await feed.put(api.Frame(error=api.OpError.bug_in_agent(exc, str(self.log_file))))

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- commands ---------------------------------------------------------------------------------------
    async def dispatch(self, args: api.Request, feed: Feed) -> Feed:
        """Start `args`; return the feed that ends with its result (an operation's own feed for deploy)."""
        notice = api.Frame(event=Notice(text=f"{self.config_file} changed since the agent loaded it: `turnout "
                                             "reload` applies it")) if self.config_changed() else None
        if notice:
            await feed.put(notice)
        running = self.running
        if isinstance(args, api.DeployArgs | api.PromoteArgs) and not (
                isinstance(args, api.PromoteArgs) and running and running.step == "canary"):
            if running is not None:
                raise LockHeld(f"an operation is running: {running.describe()}",
                               hint="wait for it (`turnout ops --follow`), or `turnout abort`")
            kind = "deploy" if isinstance(args, api.DeployArgs) else "promote"
            version = args.version if isinstance(args, api.DeployArgs) else None
            precheck = self.stack.orchestrator(actor=args.actor or None)
            if isinstance(args, api.DeployArgs):  # refused before an operation exists: nothing changes
                precheck.check_deployable(args.version, args.force, args.steps)
            else:
                precheck.check_promotable(args.steps)
            handle = OpHandle(self.stack.store, Operation(id=new_id(), app=self.stack.cfg.app.name, kind=kind,
                                                          actor=args.actor, version=version))
            launched = self._launch(handle, args).feed
            if notice:
                launched.put_nowait(notice)
            return launched
        orch = self.stack.orchestrator(lambda e: feed.put_nowait(api.Frame(event=e)), actor=args.actor or None)
        task = asyncio.create_task(self._execute(self._command(args, orch, feed), feed, orch))
        self._track(task)
        return feed

    async def _command(self, args: api.Request, orch: Orchestrator, feed: Feed) -> api.Result:
        running = self.running
        match args:
            case api.PromoteArgs():  # during canary steps: 100 % now, then the watch goes on
                assert running is not None
                return await self._ask(running, "promote", args.actor, "promoted during canary steps", feed)
            case api.AbortArgs(reason=reason):
                return await self._abort(orch, args.actor, reason or "manual abort", feed)
            case api.SwitchArgs(to=to, reason=reason, force=force):
                return await self._switch(orch, to, reason, force, rollback=False, actor=args.actor)
            case api.RollbackArgs(reason=reason, force=force):
                return await self._switch(orch, None, reason, force, rollback=True, actor=args.actor)
            case api.ValidateArgs():
                if self.busy():
                    raise LockHeld(f"an operation is running: {running.describe() if running else ''}")
                return api.Measurements(measurements=tuple(await orch.validate()))
            case api.WarmArgs(color=color):
                async with self._quiet("warm"):
                    dep = await orch.warm(color)
            case api.ScaleDownArgs(color=color):
                async with self._quiet("scale down"):
                    await orch.scale_down(color or orch.current().idle)
                    dep = orch.current()
            case api.ReloadArgs():
                return self.reload()
            case api.ApproveArgs(reason=reason):
                if running is None or running.step != "gate":
                    raise NotReady("no operation waits at a gate", hint="`turnout status` shows what runs")
                running.handle.approvals.approve(args.actor or AGENT, reason)
                return api.Done(message=f"approved {running.describe()} at {running.handle.op.gate}")
            case api.DownArgs(keep_serving=keep):
                self.keep_serving = keep
                if keep:
                    what = f"; {running.describe()} goes on at the next `turnout up`" if running else ""
                    self.stack.orchestrator(actor=args.actor or AGENT).journal.record(
                        "agent", "stopped", f"agent stopped, router and instances left serving{what}")
                self.stopping.set()
                return api.Done(message="stopping")
            case _:
                raise UsageError(f"no handler for {type(args).__name__}")
        self.poke.set()
        return api.DeploymentView.of(dep)

    def _watch_after_switch(self, dep: Any, actor: str) -> None:
        """A manual switch puts a release live: it is watched like a deploy's (a rollback is not)."""
        handle = OpHandle(self.stack.store, Operation(id=new_id(), app=self.stack.cfg.app.name, kind="switch",
                                                      actor=actor, version=dep.version_of(dep.active),
                                                      target=dep.active))
        self._launch(handle, api.SwitchArgs(actor=actor))

    @contextlib.asynccontextmanager
    async def _quiet(self, what: str) -> Any:
        """No operation is running, and no reconcile pass interleaves with this command."""
        if self.running is not None:
            raise LockHeld(f"cannot {what}: an operation is running: {self.running.describe()}",
                           hint="wait for it, or `turnout abort`")
        async with self.acting:
            yield

    async def _ask(self, running: Running, kind: IntentKind, actor: str, reason: str, feed: Feed) -> api.Result:
        """Ask the running operation to act (it holds the lock), then report how it ended."""
        running.handle.ask(Intent(kind, actor or AGENT, reason))
        await feed.put(api.Frame(event=Notice(text=f"asked {running.describe()} to {kind}")))
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.shield(running.task)
        return api.DeploymentView.of(self.stack.store.load(self.stack.cfg.app.name))

    async def _abort(self, orch: Orchestrator, actor: str, reason: str, feed: Feed) -> api.Result:
        """abort means: before the switch, stop the new color; in canary steps, all traffic back; during the
        watch, a rollback; a paused deploy, drop it. With nothing to abort it refuses and changes nothing."""
        running = self.running
        if running is None:
            dep = await orch.abort_paused(reason)  # NotReady when nothing is paused
            self.poke.set()
            return api.DeploymentView.of(dep)
        step = running.step
        if step in ("queued", "starting", "validating", "baseline", "promoting"):
            running.handle.ask(Intent("abort", actor or AGENT, reason))
            running.task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.shield(running.task)
            return api.DeploymentView.of(orch.current())
        if step == "canary":
            return await self._ask(running, "abort", actor, reason, feed)
        if step == "watching":
            return await self._switch(orch, None, f"abort during the watch: {reason}", False, rollback=True,
                                      actor=actor)
        raise NotReady(f"{running.describe()} is switching right now", hint="try again in a moment")

    async def _switch(self, orch: Orchestrator, to: Color | None, reason: str, force: bool, *, rollback: bool,
                      actor: str) -> api.Result:
        running = self.running
        action = "rollback" if rollback else "switch"
        if running is not None and running.step != "watching":
            raise LockHeld(f"cannot {action}: an operation is running: {running.describe()}",
                           hint="`turnout abort` stops it (and puts traffic back)")
        async with self.acting:
            # during the watch: check first (a refusal changes nothing), then end the watch and act
            if running is None or await orch.check_switch(to, force=force, action=action) is None:
                before = orch.current().active
                dep = await orch.switch(to, rollback=rollback, reason=reason, force=force)  # may say no-op
                if not rollback and dep.active is not before and self.stack.cfg.stabilize.window > 0 \
                        and running is None:
                    self._watch_after_switch(dep, actor)
            else:
                intent = Intent("rollback", actor or AGENT, reason or f"manual {action}")
                running.handle.ask(intent)
                try:
                    dep = await orch.switch(to, rollback=rollback, reason=reason, force=force)
                finally:
                    intent.settled.set()
        self.poke.set()
        return api.DeploymentView.of(dep)

    # -- config -----------------------------------------------------------------------------------------
    def reload(self) -> api.Reloaded:
        """Apply what can change live (checks, stabilize, deploy, hooks, webhooks...); refuse, with the
        reason, what cannot (router, runtime, health, state, the app's name): those need a restart."""
        new = config_mod.load(self.config_file)
        old = self.stack.cfg
        changed = [k for k in Config.model_fields if getattr(new, k) != getattr(old, k)]
        refused = tuple(f"{k}: the {k} cannot change while the agent runs; {RESTART_HINT.get(k, AGENT_RESTART)}"
                        for k in changed if k not in LIVE)
        applied = tuple(k for k in changed if not any(r.startswith(f"{k}:") for r in refused))
        keep = {k: getattr(old, k) for k in changed if k not in applied}
        merged = new.model_copy(update=keep)
        merged._source, merged._lines = new._source, new._lines
        checks, notifier = self.stack.checks_for(merged), build_notifier(merged)
        try:
            migrations = Migrations.from_config(merged)
        except ConfigError as exc:
            raise merged.locate(exc) from None
        self.stack.cfg, self.stack.checks, self.stack.notifier, self.stack.migrations = \
            merged, checks, notifier, migrations
        self.reconciler.orch = self.stack.orchestrator(actor=AGENT)
        if not refused:
            self.loaded = file_hash(self.config_file)
        self.stack.orchestrator(actor=AGENT).journal.record(
            "reload", "ok" if not refused else "partial",
            f"applied: {', '.join(applied) or 'nothing'}" + (f"; refused: {'; '.join(refused)}" if refused else ""))
        return api.Reloaded(applied=applied, refused=refused)

    # -- the HTTP API -----------------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/status", self.status)
        app.router.add_get("/v1/operations", self.operations)
        app.router.add_get("/v1/history", self.history)
        app.router.add_get("/v1/traffic", self.traffic)
        app.router.add_get("/v1/logs/{color}", self.logs)
        app.router.add_get("/v1/operations/{id}/follow", self.follow)
        app.router.add_post("/v1/{command}", self.command)
        return app

    def view(self) -> api.AgentView:
        return api.AgentView(running=True, pid=os.getpid(), since=self.started, config_changed=self.config_changed())

    async def status_view(self) -> api.StatusView:
        op = api.OperationView.of(self.running.handle.op) if self.running else None
        drifts = [api.DriftView(what=d.what, detail=d.detail, since=d.since, repair_error=d.error,
                                 retry_at=d.retry_at if d.error else 0.0) for d in self.reconciler.drifts.values()]
        return await self.stack.status(self.view(), op, drifts)

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(body=api.encode(await self.status_view()), content_type="application/json")

    # -- alerts -----------------------------------------------------------------------------------------
    async def alert(self, alerts: list[AlertReceived], actor: str) -> api.AlertOutcome:
        """Firing alerts that carry the app's labels roll the release back while it is watched or its
        old color is still warm; every matching alert is recorded either way (nothing is dropped)."""
        cfg = self.stack.cfg
        match = cfg.alerts.match or {"app": cfg.app.name}
        mine = [a for a in alerts if all(a.labels.get(k) == v for k, v in match.items())]
        firing = [a for a in mine if a.status == "firing"]
        orch = self.stack.orchestrator(actor=actor)
        if not firing:
            for a in mine:
                orch.journal.record("alert", a.status, f"{a.name} {a.status}: {a.summary}", [a])
            return api.AlertOutcome(matched=len(mine), action="none", message="no firing alert for this app")
        first = firing[0]
        names = ", ".join(sorted({a.name for a in firing}))
        dep, now = orch.current(), time.time()
        running = self.running
        watched = running is not None and running.step == "watching"
        if not watched and (running is not None or not dep.rollback_open(now, cfg.deploy.retention)):
            why = "no release is being watched and no old color is warm to go back to" if running is None \
                else f"{running.describe()} is not at a step a rollback applies to"
            orch.journal.record("alert", "ignored", f"{names} firing: {why}", list(firing))
            return api.AlertOutcome(matched=len(mine), action="ignored", message=why)
        reason = f"alert {names} firing" + (f": {first.summary}" if first.summary else "")
        try:
            await self._switch(orch, None, reason, False, rollback=True, actor=actor)
        except TurnoutError as exc:
            orch.journal.record("alert", "refused", f"{names} firing, rollback refused: {exc}", list(firing))
            return api.AlertOutcome(matched=len(mine), action="refused", message=str(exc))
        restored = orch.current()
        ms = round(((restored.switched_at or time.time()) - first.received_at) * 1000, 1)
        evidence = [msgspec.structs.replace(a, restored_ms=ms) for a in firing]
        orch.journal.record("alert", "rolled_back", f"{reason}; {restored.active.value} serves again, {ms:.0f} ms "
                                                    "after the alert arrived", evidence)
        self.poke.set()
        return api.AlertOutcome(matched=len(mine), action="rolled_back", message=reason, restored_ms=ms,
                                active=restored.active)

    async def operations(self, request: web.Request) -> web.Response:
        ops = self.stack.store.operations(self.stack.cfg.app.name)
        return web.Response(body=api.encode([api.OperationView.of(op) for op in ops]), content_type="application/json")

    async def history(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            return _error_response(400, api.OpError(type="UsageError", exit_code=2, message="limit must be a number"))
        events = self.stack.store.history(self.stack.cfg.app.name, max(1, min(limit, 100_000)))
        return web.Response(body=api.encode(events), content_type="application/json")

    async def traffic(self, request: web.Request) -> web.Response:
        """Traffic points per color (one a second), after `since` (default: the last five minutes)."""
        try:
            since = float(request.query.get("since", time.time() - 300))
        except ValueError:
            return _error_response(400, api.OpError(type="UsageError", exit_code=2, message="since must be a number"))
        return web.json_response(TrafficRecorder.as_json(self.recorder.since(since)))

    async def logs(self, request: web.Request) -> web.StreamResponse:
        """The color's instance logs as NDJSON lines {"instance", "text"}; `follow=1` keeps streaming."""
        try:
            color = Color(request.match_info["color"])
            lines = int(request.query.get("lines", "100"))
        except ValueError:
            return _error_response(400, api.OpError(type="UsageError", exit_code=2,
                                                    message="expected /v1/logs/blue|green?lines=N"))
        runtime = self.stack.runtime
        if not isinstance(runtime, LogSource):
            return _error_response(409, api.OpError(type="UsageError", exit_code=2,
                                                    message=f"the {runtime.kind} runtime keeps no logs turnout can "
                                                            "read"))
        resp = web.StreamResponse(headers={"Content-Type": NDJSON})
        await resp.prepare(request)
        try:
            async for line in runtime.logs(color, lines=max(0, lines), follow=request.query.get("follow") == "1"):
                await resp.write(api.encode({"instance": line.instance, "text": line.text}) + b"\n")
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        except TurnoutError as exc:
            await resp.write(api.encode({"instance": "turnout", "text": f"error: {exc}"}) + b"\n")
        return resp

    async def follow(self, request: web.Request) -> web.StreamResponse:
        feed = self.feeds.get(request.match_info["id"])
        if feed is None:
            return _error_response(404, api.OpError(type="UsageError", exit_code=2,
                                                    message=f"no operation {request.match_info['id']} in this agent"))
        return await self._stream(request, feed)

    async def command(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["command"]
        kind = api.COMMANDS.get(name)
        if kind is None:
            return _error_response(404, api.OpError(type="UsageError", message=f"unknown command {name!r}",
                                                    exit_code=2))
        try:
            args = api.decode(kind, await request.read() or b"{}")
        except UsageError as exc:
            return _error_response(400, api.OpError(type="UsageError", message=str(exc), exit_code=exc.exit_code))
        feed = Feed()
        try:
            feed = await self.dispatch(args, feed)
        except TurnoutError as exc:  # refused before anything started: no side effect
            await feed.put(api.Frame(error=api.OpError(type=type(exc).__name__, message=str(exc), hint=exc.hint,
                                                       exit_code=exc.exit_code)))
        return await self._stream(request, feed)

    async def _stream(self, request: web.Request, feed: Feed) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": NDJSON})
        await resp.prepare(request)
        sent = 0

        def more() -> bool:
            return len(feed.frames) > sent

        try:
            while True:
                async with feed.changed:
                    await feed.changed.wait_for(more)
                for frame in feed.frames[sent:]:
                    await resp.write(api.encode(frame) + b"\n")
                sent = len(feed.frames)
                if feed.done:
                    break
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the follower went away: the operation goes on
        return resp

    # -- background ------------------------------------------------------------------------------------
    async def reconcile_once(self) -> None:
        async with self.acting:
            try:
                await self.reconciler.tick()
            except TurnoutError as exc:
                log.warning("reconcile: %s", exc)
            except Exception:  # a driver's bug must not end reconciliation for the rest of the agent's life
                log.exception("reconcile pass failed; the next pass tries again")

    async def reconcile_loop(self) -> None:
        while not self.stopping.is_set():
            await self.reconcile_once()
            self.poke.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.poke.wait(), 1.0)

    async def teardown(self) -> None:
        if self.running is not None:  # down during an operation: it ends, and says so
            running = self.running
            running.handle.finish(OpState.ABORTED, "the agent was stopped (`turnout down`)")
            running.task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(running.task, 10)
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(task, 5)
        for color in Color:
            with contextlib.suppress(TurnoutError):
                await self.stack.runtime.stop(color)
        with contextlib.suppress(TurnoutError):
            await self.stack.router.release()
        if self.stack.notifier:
            await self.stack.notifier.flush()
        await self.stack.close()


def _error_response(status: int, error: api.OpError) -> web.Response:
    return web.Response(status=status, body=api.encode(api.Frame(error=error)) + b"\n", content_type=NDJSON)


def hold_agent_lock(state_dir: Path) -> None:
    """One agent per state folder, for as long as its process lives (a stopped one too: an agent that
    wakes up beside a second one would act on the same router and instances). The descriptor stays
    open on purpose; the kernel lets go of the lock when the process ends, however it ends."""
    import fcntl

    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "agent.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        pid_file = agent_paths(state_dir)[1]
        pid = pid_file.read_text().strip() if pid_file.exists() else "?"
        raise LockHeld(f"another turnout agent (pid {pid}) holds {path}: it runs but does not answer "
                       "(stopped or blocked)",
                       hint=f"`kill -CONT {pid}` if it was stopped; or `kill -9 {pid}` (traffic goes on) and "
                            "`turnout up` again") from None


async def serve(config_path: str | None, version: str | None) -> int:
    cfg = config_mod.load(config_path)
    hold_agent_lock(cfg.state_dir())
    sock, pid_file = agent_paths(cfg.state_dir())
    stack = Stack.build(cfg)
    agent = Agent(stack, config_mod.find(config_path).resolve(), cfg.state_dir() / "logs" / "agent.log")
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, agent.stopping.set)
    try:  # the HTTP port first: a port that cannot be bound must stop the start before anything runs
        http_runner = await serve_http(agent, cfg.api.listen) if cfg.api.listen else None
        await agent.start(version)
    except BaseException:
        await stack.close()
        raise
    runner = web.AppRunner(agent.app(), access_log=None)
    await runner.setup()
    sock.unlink(missing_ok=True)
    await web.UnixSite(runner, str(sock)).start()
    os.chmod(sock, 0o600)
    pid_file.write_text(str(os.getpid()))
    log.info("agent ready on %s", sock)
    print(f"turnout agent ready (pid {os.getpid()})", flush=True)
    loop_task = asyncio.create_task(agent.reconcile_loop())
    recorder_task = asyncio.create_task(agent.recorder.run(agent.stopping))
    await agent.stopping.wait()
    if agent.keep_serving:
        # Leave as a crash would, minus the crash: nothing is cancelled (a cancelled deploy would abort),
        # every state write is already committed, so the next `up` adopts and resumes exactly as after a kill.
        await asyncio.sleep(0.1)  # the `down` answer reaches its caller first
        if agent.stack.notifier:
            await agent.stack.notifier.flush(2.0)
        log.info("agent stopped; router, instances and operations left running for the next `turnout up`")
        logging.shutdown()
        for path in (sock, pid_file):  # last: a new agent can start only once this one is gone
            path.unlink(missing_ok=True)
        os._exit(0)
    loop_task.cancel()
    recorder_task.cancel()
    await agent.teardown()
    if http_runner is not None:
        await http_runner.cleanup()
    await runner.cleanup()
    sock.unlink(missing_ok=True)
    pid_file.unlink(missing_ok=True)
    return 0


async def serve_http(agent: Agent, listen: str) -> web.AppRunner:
    """The HTTP API and dashboard on `[api] listen`; a port that cannot be bound stops the start."""
    from turnout.control.http_api import HttpApi

    host, _, port = listen.rpartition(":")
    runner = web.AppRunner(HttpApi(agent).app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host.strip("[]"), int(port)).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"cannot serve the HTTP API on {listen}: {exc.strerror or exc}", key=("api", "listen"),
                          hint="pick a free port, or leave [api] listen unset") from None
    log.info("HTTP API and dashboard on http://%s/", listen)
    return runner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="turnout-agent")
    parser.add_argument("--config")
    parser.add_argument("--version")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        return asyncio.run(serve(args.config, args.version))
    except TurnoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
