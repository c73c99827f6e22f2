"""The only module that knows the order of steps: deploy, validate, switch, rollback, resume, retire.

Every state change goes through the journal (journal.py) as a named transition of the deployment
(model.Deployment). A deploy or a promotion is an operation (operation.py) whose step is saved before
it runs: an agent that restarts resumes it from the step it was in and from what the router really
serves (`resume_operation`). A command acts on a running operation only through an intent (abort,
rollback, promote); any other command leaves it alone.

    deploy: lock → pre-deploy hook → DEPLOY (expand migrations, start release on the idle color)
      → VALIDATE (checks on the test endpoint, judged by the gate) → [pause: promote/abort]
      → SWITCH (canary steps, each watched, then 100 %) → STABILIZE
      → unlock → watch the live color; a trigger → route back (ROLLED_BACK), the release marked bad
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from turnout.checks.base import Check, Target
from turnout.config import Config, canary_steps
from turnout.engine import confirm, gate, phases, watch
from turnout.engine.journal import Journal, Progress, quiet
from turnout.engine.operation import OpHandle, new_id
from turnout.errors import (
    Aborted,
    AutoRolledBack,
    GateClosed,
    LockHeld,
    MigrationError,
    NotReady,
    RollbackFailed,
    RouterError,
    RuntimeFailure,
    TurnoutError,
    UsageError,
    ValidationFailed,
)
from turnout.events import (
    Aborting,
    Checked,
    Evidence,
    Measured,
    Noop,
    RollbackTiming,
    Starting,
    SwitchTiming,
    Watching,
    checked,
)
from turnout.migrate import Migrations
from turnout.model import (
    RELEASE_NAME_RULE,
    Color,
    Deployment,
    Endpoint,
    Measurement,
    Operation,
    OpState,
    Phase,
    Release,
    RouteState,
    Verdict,
    Weights,
    is_release_name,
)
from turnout.notify import Notifier
from turnout.routers.base import Router, TrafficSource
from turnout.runtimes.base import Runtime
from turnout.store.base import Store

SamplerFor = Callable[[Color, str], watch.Sampler]  # (color watched, URL it is served at) -> sampler
Baselines = dict[str, watch.Baseline]  # by watch stream: probes, traffic
CATCH_UP = 10.0  # a watch whose deadline passed while no agent ran still watches this long
ROUTER_REVIVED = "router prepared again"  # how the audit log's repair of an unreadable router begins
VERIFY_POLL = (0.02, 1.0)  # seconds between reads of a new split: first, and the cap it doubles up to


def check_version(version: str) -> None:
    if not is_release_name(version):
        raise UsageError(f"not a release name: {version!r}", hint=RELEASE_NAME_RULE)


class Orchestrator:
    def __init__(self, cfg: Config, store: Store, router: Router, runtime: Runtime, checks: Sequence[Check],
                 *, actor: str, progress: Progress = quiet, notifier: Notifier | None = None,
                 migrations: Migrations | None = None, sampler_for: SamplerFor | None = None) -> None:
        self.cfg, self.store, self.router, self.runtime = cfg, store, router, runtime
        self.checks = list(checks)
        self.actor = actor
        self.migrations = migrations
        self.sampler_for = sampler_for or (lambda color, url: watch.ProbeSampler(url, cfg.stabilize.probe))
        self.app = cfg.app.name
        # the lock holder is unique per orchestrator, so two operations never share the lock
        self.journal = Journal(store, self.app, actor, progress=progress, notifier=notifier,
                               holder=f"{actor} [{id(self):x}]")

    @property
    def progress(self) -> Progress:
        return self.journal.progress

    @progress.setter
    def progress(self, value: Progress) -> None:
        self.journal.progress = value

    def current(self) -> Deployment:
        return self.store.load(self.app)

    # -- first release -------------------------------------------------------------------------------
    async def bootstrap(self, version: str) -> Deployment:
        """Start the first release on blue and point all traffic at it."""
        check_version(version)
        self.journal.lock(f"bootstrap {version}")
        try:
            dep = self.current()
            if dep.version_of(dep.active) is not None:
                return dep
            self.progress(Starting(color=Color.BLUE, version=version))
            endpoints = await self.runtime.start(Release(version), Color.BLUE)
            await self.router.prepare({Color.BLUE: endpoints, Color.GREEN: []})
            await self.route_and_verify(Weights.all_to(Color.BLUE))
            return self.journal.advance(dep.bootstrapped(version, time.time()), Phase.INITIAL, action="bootstrap",
                                        outcome="ok", to_color=Color.BLUE, reason=f"{version} live on blue")
        finally:
            self.journal.unlock()

    # -- deploy: an operation ---------------------------------------------------------------------------
    def operation(self, kind: str, version: str | None = None) -> OpHandle:
        """A new operation record, saved: what the agent hands to deploy() and promote()."""
        return OpHandle(self.store, Operation(id=new_id(), app=self.app, kind=kind, actor=self.actor, version=version))

    async def deploy(self, version: str, *, switch: bool = True, pause: bool = False,
                     steps: Sequence[int] | None = None, force: bool = False, op: OpHandle | None = None) -> Deployment:
        """Put `version` on the idle color, validate it, then (unless paused) shift traffic to it and watch."""
        op = op or self.operation("deploy", version)
        chosen = self._steps(steps)
        self.journal.lock(f"deploy {version} ({op.id})")
        try:
            dep = self._deployable(version, force)
            await self._idle_as_stored(dep, op)
            await self.journal.hook("pre-deploy", dep, f"deploy {version}", version=version)
            target, release = dep.idle, Release(version)
            op.step("starting", version=version, target=target, steps=tuple(chosen))
            self.journal.advance(dep.starting(target, version), Phase.DEPLOY, action="deploy", outcome="started",
                                 from_color=dep.active, to_color=target,
                                 reason=f"{version} to {target.value} ({op.id})")
            try:
                await self._expand(target)
                endpoints = await self._start(target, release)
                self.journal.advance(self.current().ready(target), Phase.VALIDATE, action="validate",
                                     outcome="started", to_color=target)
                op.step("validating")
                result = await self._gate(target, release, endpoints)
            except asyncio.CancelledError:
                raise await self._cancelled(op, target) from None
            except ValidationFailed as exc:
                op.finish(OpState.ABORTED, str(exc), exc.exit_code)
                raise
            except TurnoutError as exc:
                op.finish(OpState.FAILED, str(exc), exc.exit_code)
                raise
            if result.verdict is not Verdict.PASS:
                await self._abort(target, f"check {result.reason}", checked(result.measurements))
                op.finish(OpState.ABORTED, f"check {result.reason}", ValidationFailed.exit_code)
                raise ValidationFailed(f"check {result.reason}",
                                       hint=f"nothing was switched; {target.other.value} still serves")
            dep = self.journal.advance(self.current().validated(), Phase.VALIDATE, action="validate", outcome="ok",
                                       to_color=target, reason=result.reason, evidence=checked(result.measurements))
            if pause or not switch:
                message = f"{version} validated on {target.value}; `turnout promote` switches, `turnout abort` stops it"
                if pause:
                    self.journal.record("pause", "ok", message)
                op.finish(OpState.SUCCEEDED, message if pause else f"{version} validated on {target.value}")
                return dep
            await self._halt_unless_open(op, "before-switch", target, chosen)
            dep, baseline = await self._go_live(op, dep, target, chosen, reason=f"deploy {version}")
        finally:
            self.journal.unlock()
        return await self._stabilize(op, dep, baseline)

    def check_deployable(self, version: str, force: bool, steps: Sequence[int] | None) -> None:
        """Raise what deploy() would refuse with, changing nothing."""
        self._steps(steps)
        self._refusal(self.current(), version, force)

    def check_promotable(self, steps: Sequence[int] | None) -> None:
        self._steps(steps)
        self._paused()

    def _refusal(self, dep: Deployment, version: str, force: bool) -> None:
        check_version(version)
        if dep.phase in phases.IN_PROGRESS and dep.target is not None:
            raise TurnoutError(f"{self.app}: a deploy to {dep.target.value} is in phase {dep.phase.value}",
                               hint="wait for it, or `turnout abort`")
        if dep.version_of(dep.active) is None:
            raise NotReady(f"{self.app} has no live release yet", hint="start one with `turnout up --version V`")
        if version in dep.bad and not force:
            raise NotReady(f"{version} was rolled back automatically after it went live",
                           hint=f"`turnout deploy {version} --force` deploys it anyway")

    def _deployable(self, version: str, force: bool) -> Deployment:
        dep = self.current()
        self._refusal(dep, version, force)
        if version in dep.bad:
            dep = self.journal.update(dep.cleared(version), action="deploy", outcome="forced",
                                      reason=f"{version} deployed again although it was rolled back by a trigger")
        return dep

    async def _idle_as_stored(self, dep: Deployment, op: OpHandle) -> None:
        """Refuse a deploy while the router serves the color it would start on: something moved traffic
        behind turnout (a re-applied manifest, a hand edit), and the new release would replace, or its
        abort would stop, what users are served by."""
        try:
            served = (await self.router.observe()).weights
            if served.of(dep.idle):
                raise NotReady(f"the router serves {served.as_dict()} but the state says {dep.active.value} is "
                               f"live: a deploy would start on {dep.idle.value}, which serves production",
                               hint="something changed the router behind turnout (a GitOps sync, kubectl apply?): "
                                    "the agent puts it back (`turnout status` shows the drift), or run "
                                    f"`turnout switch {dep.active.value}`")
        except TurnoutError as exc:
            self.journal.record("deploy", "refused", str(exc))
            op.finish(OpState.FAILED, str(exc), exc.exit_code)
            raise

    async def promote(self, steps: Sequence[int] | None = None, *, op: OpHandle | None = None) -> Deployment:
        """Continue a paused deploy: canary steps, the switch, and the stabilize watch."""
        op = op or self.operation("promote")
        chosen = self._steps(steps)
        self.journal.lock(f"promote ({op.id})")
        try:
            dep = self._paused()
            target = dep.idle
            op.step("promoting", version=dep.version_of(target), target=target, steps=tuple(chosen))
            await self._ensure_warm(dep, target, "promote")
            # a person promoting is the approval; webhook gates still have their say
            await self._halt_unless_open(op, "before-switch", target, chosen, approvals=False)
            dep, baseline = await self._go_live(op, dep, target, chosen, reason=f"promote {dep.version_of(target)}")
        except TurnoutError as exc:
            if not op.op.done:
                op.finish(OpState.FAILED, str(exc), exc.exit_code)
            raise
        finally:
            self.journal.unlock()
        return await self._stabilize(op, dep, baseline)

    def _steps(self, steps: Sequence[int] | None) -> list[int]:
        """The canary steps before 100 % (the rule itself, rising 1..100, is the config's)."""
        chosen = list(steps if steps is not None else self.cfg.deploy.steps)
        try:
            canary_steps(chosen)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if chosen and not self.router.can_split:
            raise TurnoutError(f"the {self.router.kind} router cannot split traffic; canary steps need one that can")
        return [p for p in chosen if p < 100]

    async def _expand(self, target: Color) -> None:
        if self.migrations is None:
            return
        try:
            applied = await asyncio.to_thread(self.migrations.apply_expand)
        except MigrationError as exc:
            await self._abort(target, f"expand migrations refused: {exc}")
            raise
        if applied:
            self.journal.record("migrate", "ok", f"expand: {', '.join(m.name for m in applied)}")

    async def _start(self, target: Color, release: Release) -> list[Endpoint]:
        self.progress(Starting(color=target, version=release.version))
        try:  # at its preview size, if one is set: _full_size() scales it up before the switch
            endpoints = await self.runtime.start(release, target, self.cfg.runtime.preview_instances)
        except RuntimeFailure as exc:
            # Instances that never answer their readiness probe fail the deploy like a failed check.
            reason = f"check readiness fail: {exc}"
            await self._abort(target, reason)
            raise ValidationFailed(reason, hint=f"nothing was switched; {target.other.value} still serves") from None
        try:
            await self.router.prepare({target: endpoints})
        except RouterError as exc:
            await self._abort(target, str(exc))
            raise
        return endpoints

    async def _gate(self, color: Color, release: Release, endpoints: Sequence[Endpoint]) -> gate.GateResult:
        state = await self.router.observe()
        if state.test_color is not color:
            m = Measurement("test-endpoint", Verdict.ERROR, state.test_color.value,
                            f"test endpoint serves {state.test_color.value}, expected {color.value}")
            return gate.GateResult(Verdict.ERROR, [m], m.check, f"test-endpoint error: {m.detail}")
        status = await self.runtime.status(color)
        target = Target(url=state.test_url, color=color, release=release, baseline_url=state.production_url,
                        endpoints=tuple(endpoints) or status.endpoints,
                        pids=tuple(i.pid for i in status.instances if i.pid))
        return await gate.run_gate(self.checks, target, self.cfg.analysis,
                                   on_measurement=lambda m: self.progress(Measured(measurement=m)))

    async def _abort(self, target: Color, reason: str, evidence: Sequence[Evidence] = ()) -> None:
        """Stop the new color of a deploy that did not switch; the live color keeps serving. A color the
        router serves after all (moved behind turnout's back meanwhile) is left running."""
        self.progress(Aborting(color=target, reason=reason))
        try:
            if await self._serves(target):
                reason = f"{reason}; {target.value} was left running: the router serves it"
            else:
                await self.runtime.stop(target, drain=0)
        finally:
            self.journal.advance(self.current().dropped(target), Phase.ABORTED, action="deploy", outcome="failed",
                                 to_color=target, reason=reason, evidence=evidence)

    async def _serves(self, color: Color) -> bool:
        """Whether the router sends `color` any production traffic; an unreadable router says no (the deploy
        checked before it started that `color` served nothing)."""
        try:
            return (await self.router.observe()).weights.of(color) > 0
        except RouterError:
            return False

    async def _cancelled(self, op: OpHandle, target: Color) -> Aborted:
        """The operation's task was cancelled by `abort` before the switch: clean up, say who."""
        intent = op.take_intent()
        reason = f"aborted by {intent.actor}: {intent.reason}" if intent else "aborted"
        await asyncio.shield(self._abort(target, reason))
        op.finish(OpState.ABORTED, reason, Aborted.exit_code)
        return Aborted(reason, hint=f"nothing was switched; {target.other.value} still serves")

    async def validate(self) -> list[Measurement]:
        """Re-run the checks against the idle color (test endpoint); switches nothing."""
        dep = self.current()
        status = await self.runtime.status(dep.idle)
        version = dep.version_of(dep.idle)
        if dep.target is not None:
            raise NotReady(f"a deploy is putting {version} on {dep.idle.value} right now",
                           hint="its own checks run as part of it")
        if version is None or status.healthy == 0:
            raise NotReady(f"{dep.idle.value} runs nothing healthy to validate")
        result = await self._gate(dep.idle, Release(version), status.endpoints)
        self.journal.record("validate", "ok" if result.verdict is Verdict.PASS else "failed", result.reason,
                            checked(result.measurements))
        return result.measurements

    # -- manual gate ------------------------------------------------------------------------------------
    async def abort_paused(self, reason: str) -> Deployment:
        """Stop a paused (validated, not switched) release; the live color keeps serving."""
        self.journal.lock("abort")
        try:
            dep = self._paused(for_abort=True)
            await self._abort(dep.idle, reason)
            return self.current()
        finally:
            self.journal.unlock()

    def _paused(self, *, for_abort: bool = False) -> Deployment:
        dep = self.current()
        if dep.phase is not Phase.VALIDATE or dep.target is not None:
            if for_abort:
                raise NotReady(f"nothing to abort: no operation runs, no release is paused (phase {dep.phase.value})",
                               hint="`turnout rollback` puts traffic back on the previous color while it is warm")
            raise NotReady(f"no validated release is waiting for promotion (phase {dep.phase.value})",
                           hint="`turnout deploy VERSION --pause-before-switch` leaves one")
        return dep

    # -- switch and rollback ------------------------------------------------------------------------------
    async def check_switch(self, to: Color | None, *, force: bool, action: str) -> tuple[Deployment, Color] | None:
        """What a switch to `to` (default: away from what the router really serves) would do, without
        doing it: None if that color already serves all traffic; NotReady if it cannot."""
        dep = self.current()
        served = (await self._served(dep)).weights
        target = to or served.dominant.other
        if target is dep.active and dep.weights == Weights.all_to(target) and served == dep.weights \
                and dep.phase not in phases.IN_PROGRESS:
            return None
        if dep.target is not None and dep.target is target and dep.phase in (Phase.DEPLOY, Phase.VALIDATE):
            raise NotReady(f"cannot {action}: a deploy is putting {dep.version_of(target)} on {target.value}",
                           hint="`turnout abort` stops it")
        version = dep.version_of(target)
        if version in dep.bad and not force and target is not dep.active:
            raise NotReady(f"cannot {action}: {target.value} runs {version}, which was rolled back automatically "
                           "after it went live", hint=f"`turnout {action} --force` switches to it anyway")
        await self._ensure_warm(dep, target, action, record=False)
        return dep, target

    async def switch(self, to: Color | None = None, *, rollback: bool = False, reason: str = "",
                     force: bool = False) -> Deployment:
        """Send all traffic to `to` (default: the color the router does not serve), decided from what the
        router really serves; a switch that is already true is a no-op that says so."""
        action = "rollback" if rollback else "switch"
        self.journal.lock(action)
        try:
            try:
                plan = await self.check_switch(to, force=force, action=action)
            except NotReady as exc:
                self.journal.record(action, "refused", str(exc))
                raise
            if plan is None:
                target = to or self.current().active
                self.progress(Noop(reason=f"{target.value} already serves all traffic"))
                return self.current()
            dep, target = plan
            source = target.other
            return await self._switch(dep, target, action=action, reason=reason or f"manual {action}", source=source)
        finally:
            self.journal.unlock()

    async def rollback(self, reason: str = "", *, force: bool = False) -> Deployment:
        return await self.switch(None, rollback=True, reason=reason or "manual rollback", force=force)

    async def _ensure_warm(self, dep: Deployment, target: Color, action: str, *, record: bool = True) -> None:
        version = dep.version_of(target)
        status = await self.runtime.status(target)
        problem, hint = "", ""
        if version is None:
            problem, hint = f"{target.value} runs no release", "deploy one with `turnout deploy VERSION`"
        elif not dep.warm.get(target) or not status.instances:
            problem = f"{target.value} ({version}) was scaled down"
            hint = (f"warm it up with `turnout warm {target.value}`, or redeploy the previous version: "
                    f"`turnout deploy {version}`")
        elif status.healthy == 0:
            problem, hint = f"no instance of {target.value} ({version}) is healthy", "check its logs, or redeploy"
        if problem:
            if record:
                self.journal.record(action, "refused", problem)
            raise NotReady(f"cannot {action}: {problem}", hint=hint)
        await self.router.prepare({target: status.endpoints})

    async def _switch(self, dep: Deployment, target: Color, *, action: str, reason: str,
                      evidence: Sequence[Evidence] = (), source: Color | None = None) -> Deployment:
        source = source or dep.active
        dep = self.journal.advance(dep.switching(target), Phase.SWITCH, action=action, outcome="started",
                                   from_color=source, to_color=target, reason=reason)
        started = time.monotonic()
        try:
            routed = await self.route_and_verify(Weights.all_to(target))
        except TurnoutError as exc:
            await self._restore(source, target, action, exc)
            raise
        timing = SwitchTiming(ms=round((time.monotonic() - started) * 1000, 2), routed_at=routed)
        final = Phase.ROLLED_BACK if action == "rollback" else Phase.STABILIZE
        dep = self.journal.advance(self.current().switched(target, time.time()), final, action=action, outcome="ok",
                                   from_color=source, to_color=target, reason=reason, evidence=[timing, *evidence])
        await self.journal.hook("post-rollback" if action == "rollback" else "post-switch", dep, reason)
        return dep

    async def _restore(self, source: Color, target: Color, action: str, exc: TurnoutError) -> None:
        """A switch that did not take: put all traffic back on `source`; if that fails too, say so loudly."""
        try:
            await self.route_and_verify(Weights.all_to(source))
        except TurnoutError as back:
            self.journal.advance(self.current(), Phase.SWITCH, action=action, outcome="failed", reason=str(back))
            raise RollbackFailed(f"{action} to {target.value} failed ({exc}) and so did restoring "
                                 f"{source.value}: {back}") from None
        self.journal.advance(self.current().kept(source), Phase.ABORTED, action=action, outcome="failed",
                             from_color=source, to_color=target, reason=str(exc))

    async def _served(self, dep: Deployment) -> RouteState:
        """What the router serves. One that cannot be read is revived first, and given the stored split
        back if it came up serving another (a restart without its state file): a rollback typed while
        the router is down must not wait for the reconcile loop, nor be decided by a router's defaults."""
        try:
            return await self.router.observe()
        except RouterError as exc:
            state = await self._revive(exc)
        if state.weights != dep.weights and dep.phase not in phases.IN_PROGRESS:
            await self.route_and_verify(dep.weights)
            state = await self.router.observe()
        return state

    async def prepare_router(self) -> RouteState:
        """prepare() again with every color's instances (an owned router process is started again), and
        what it serves then. The reconcile loop's repair and a command's revival are this one call."""
        statuses = {c: await self.runtime.status(c) for c in Color}
        await self.router.prepare({c: s.endpoints for c, s in statuses.items()})
        return await self.router.observe()

    async def _revive(self, exc: RouterError) -> RouteState:
        """A command found the router not answering: prepare it again; if that does not bring it back,
        the original error stands."""
        try:
            state = await self.prepare_router()
        except TurnoutError:
            raise exc from None
        self.journal.record("reconcile", "repaired", f"{ROUTER_REVIVED}; it serves {state.weights.as_dict()} "
                                                     f"(it was not answering: {exc})")
        return state

    async def route_and_verify(self, weights: Weights) -> float:
        """Ask the router for a split and poll it until it really serves it (never trust route()).

        A read that fails is "not yet", never a failed switch: one throttled or refused read (a 429, an
        ELB Throttling) must not turn a switch that worked into a rollback. The polls back off from
        20 ms to 1 s, so a slow router is not hammered. Returns the wall-clock moment route() returned:
        the switch command's end, for timing.
        """
        try:
            await self.router.route(weights)
        except RouterError as exc:
            await self._revive(exc)
            await self.router.route(weights)
        routed_at = time.time()
        deadline = time.monotonic() + self.cfg.deploy.verify_timeout
        pause, seen = VERIFY_POLL[0], "nothing readable"
        while True:
            try:
                state = await self.router.observe()
            except RouterError as exc:
                seen = f"nothing readable ({exc})"
            else:
                if state.weights == weights:
                    return routed_at
                seen = str(state.weights.as_dict())
            if time.monotonic() > deadline:
                raise RouterError(f"router still serves {seen} after {self.cfg.deploy.verify_timeout:.0f}s, "
                                  f"asked for {weights.as_dict()}")
            await asyncio.sleep(pause)
            pause = min(pause * 2, VERIFY_POLL[1])

    # -- canary steps and the stabilize watch ---------------------------------------------------------------
    async def _go_live(self, op: OpHandle, dep: Deployment, target: Color, steps: Sequence[int], *, reason: str
                       ) -> tuple[Deployment, Baselines]:
        """Measure the live color's baseline, then shift traffic to `target` (canary steps, then 100 %)."""
        await self._full_size(op, target)
        op.step("baseline")
        try:
            baseline = await self._baseline(dep, steps)
        except asyncio.CancelledError:  # abort before any traffic moved: the new color goes
            raise await self._cancelled(op, target) from None
        op.step("canary" if steps else "switching", baseline=watch.baseline_data(baseline), step_index=0)
        return await self._shift(op, target, steps, baseline, reason=reason), baseline

    async def _full_size(self, op: OpHandle, target: Color) -> None:
        """A release validated at runtime.preview_instances goes to full size before any traffic moves to it."""
        preview = self.cfg.runtime.preview_instances
        if preview is None:
            return
        try:
            endpoints = await self.runtime.scale(target, self.cfg.runtime.instances)
            await self.router.prepare({target: endpoints})
        except TurnoutError as exc:
            reason = f"scaling {target.value} from its preview size to full size failed: {exc}"
            await self._abort(target, reason)
            op.finish(OpState.ABORTED, reason, ValidationFailed.exit_code)
            raise ValidationFailed(reason, hint=f"nothing was switched; {target.other.value} still serves") from None
        self.journal.record("scale", "ok", f"{target.value} from its preview size ({preview}) to {len(endpoints)} "
                                           "instances before the switch")

    async def _baseline(self, dep: Deployment, steps: Sequence[int]) -> Baselines:
        """The live color's behaviour before the switch, what the new one is held against afterwards:
        its probes and its user traffic, side by side."""
        stab = self.cfg.stabilize
        if stab.window <= 0 and not steps:
            return {}
        state = await self.router.observe()
        return await watch.sample_baselines(self._streams(dep.active, state.production_url, {}), stab.baseline)

    def _streams(self, color: Color, url: str, baselines: Baselines) -> list[watch.Stream]:
        """What the watch judges `color` by: probes to `url`, and the router's counters of user
        requests to the color when the router keeps them."""
        stab = self.cfg.stabilize
        streams = [watch.Stream(watch.PROBES, self.sampler_for(color, url), stab.interval, watch.triggers_for(stab),
                                baselines.get(watch.PROBES))]
        if stab.traffic.enabled and isinstance(self.router, TrafficSource):
            streams.append(watch.Stream(watch.TRAFFIC, watch.TrafficSampler(self.router, color),
                                        stab.traffic.interval, watch.triggers_for(stab, watch.TRAFFIC),
                                        baselines.get(watch.TRAFFIC)))
        return streams

    async def _shift(self, op: OpHandle, target: Color, steps: Sequence[int], baseline: Baselines,
                     *, reason: str, first: int = 0, first_window: float | None = None) -> Deployment:
        """Canary steps from `first` (each watched for deploy.step_window), then all traffic to `target`."""
        source = target.other
        for index in range(first, len(steps)):
            pct, split = steps[index], Weights.split(target, steps[index])
            window = self.cfg.deploy.step_window if first_window is None or index != first else first_window
            if not (index == first and first_window is not None):  # a resumed step is already routed
                await self._back_unless_open(op, "before-step", target, steps, index)
                op.step("canary", step_index=index, deadline=None)
                self.journal.advance(self.current().switching(target), Phase.SWITCH, action="canary",
                                     outcome="started", from_color=source, to_color=target,
                                     reason=f"{pct}% to {target.value}")
                try:
                    await self.route_and_verify(split)
                except TurnoutError as exc:
                    await self._restore(source, target, "canary", exc)
                    op.finish(OpState.FAILED, str(exc), exc.exit_code)
                    raise
                self.journal.update(self.current().shifted(split), action="canary", outcome="shifted",
                                    from_color=source, to_color=target, reason=f"router serves {pct}% to {target}")
            op.step("canary", step_index=index, deadline=time.time() + window)
            result = await self._watch(target, baseline, window, stop=op.stop, dominant=pct > 50)
            intent = op.take_intent()
            if result.trigger is not None:
                await self._route_back(source, target, f"canary step {pct}% failed: {result.reason}", result)
                op.finish(OpState.ROLLED_BACK, f"canary step {pct}% failed: {result.reason}",
                          AutoRolledBack.exit_code)
                raise AutoRolledBack(f"canary step {pct}% failed: {result.reason}",
                                     hint=f"{source.value} serves all traffic again")
            if intent is not None and intent.kind == "promote":
                self.journal.record("canary", "promoted", f"{intent.actor} promoted at {pct}%: {intent.reason}")
                break
            if intent is not None:  # abort (or rollback) during a canary step: all traffic back
                why = f"{intent.kind} by {intent.actor} at canary step {pct}%: {intent.reason}"
                self.progress(Aborting(color=target, reason=why))
                await self._switch(self.current(), source, action="rollback", reason=why, source=target)
                op.finish(OpState.ABORTED, why, Aborted.exit_code)
                raise Aborted(why, hint=f"{source.value} serves all traffic again")
            self.journal.record("canary", "ok", f"{pct}% to {target.value} held for {window:g}s",
                                checked(result.measurements))
        if steps:
            await self._back_unless_open(op, "before-promotion", target, steps, len(steps))
        op.step("switching", deadline=None)
        return await self._switch(self.current(), target, action="switch", reason=reason)

    # -- gates ----------------------------------------------------------------------------------------------
    async def _gates(self, op: OpHandle, point: str, target: Color, steps: Sequence[int], index: int | None,
                     *, approvals: bool = True) -> confirm.GateResult | None:
        """Pass every gate at `point`; the first closed one, or None when all opened (or there are none)."""
        wanted = [g for g in self.cfg.gates if g.point == point and (approvals or not g.approval)]
        if not wanted:
            return None
        dep = self.current()
        payload = {"app": self.app, "operation": op.id, "actor": op.op.actor, "version": dep.version_of(target),
                   "color": target.value, "live": dep.active.value, "weights": dep.weights.as_dict(),
                   "steps": list(steps), "step": steps[index] if index is not None and index < len(steps) else 100}
        previous = op.op.step
        op.step("gate", gate=f"{point}: " + ", ".join(confirm.name(g) for g in wanted))
        results = await confirm.pass_gates(wanted, point, payload, op.approvals)
        for result in results:
            self.journal.record("gate", "open" if result.open else "closed", f"{point}: {result.reason}",
                                [Checked(measurement=result.measurement)])
        op.step(previous, gate="")
        return next((r for r in results if not r.open), None)

    async def _halt_unless_open(self, op: OpHandle, point: str, target: Color, steps: Sequence[int],
                                *, approvals: bool = True, index: int | None = None) -> None:
        """Before any traffic moved: a closed gate leaves the release validated and paused."""
        closed = await self._gates(op, point, target, steps, index, approvals=approvals)
        if closed is None:
            return
        version = self.current().version_of(target)
        message = (f"halted at the {point} gate ({closed.reason}); {version} stays validated on {target.value}: "
                   "`turnout promote` tries the gates again, `turnout abort` drops it")
        self.journal.record("pause", "ok", message)
        op.finish(OpState.ABORTED, message, GateClosed.exit_code)
        raise GateClosed(message, hint=f"{target.other.value} still serves all traffic")

    async def _back_unless_open(self, op: OpHandle, point: str, target: Color, steps: Sequence[int],
                                index: int) -> None:
        """During canary steps: a closed gate sends all traffic back to the color that served it."""
        if self.current().weights == Weights.all_to(target.other):  # no traffic moved yet: halt, as before it
            await self._halt_unless_open(op, point, target, steps, index=index)
            return
        closed = await self._gates(op, point, target, steps, index)
        if closed is None:
            return
        source = target.other
        why = f"the {point} gate closed: {closed.reason}"
        self.progress(Aborting(color=target, reason=why))
        await self._switch(self.current(), source, action="rollback", reason=why, source=target)
        op.finish(OpState.ROLLED_BACK, why, GateClosed.exit_code)
        raise GateClosed(why, hint=f"{source.value} serves all traffic again")

    async def watch_switch(self, op: OpHandle) -> Deployment:
        """The watch after a manual switch to a release: the same triggers, against no baseline."""
        dep = self.current()
        op.step("watching", version=dep.version_of(dep.active), target=dep.active,
                deadline=op.op.deadline or time.time() + self.cfg.stabilize.window)
        return await self._stabilize(op, dep, {})

    async def _watch(self, color: Color, baseline: Baselines, window: float, *,
                     stop: asyncio.Event | None, dominant: bool = True) -> watch.WatchResult:
        state = await self.router.observe()
        # Where the color gets the traffic: the production URL once it has the majority, the test
        # endpoint (which serves the non-dominant color) while it is a small canary.
        url = state.production_url if dominant else state.test_url
        self.progress(Watching(color=color, window=round(window, 3), url=url))
        return await watch.watch_streams(self._streams(color, url, baseline), window=window, stop=stop)

    async def _stabilize(self, op: OpHandle, dep: Deployment, baseline: Baselines) -> Deployment:
        """Watch the new live color until the op's deadline; a trigger switches straight back."""
        target, source = dep.active, dep.idle
        if self.cfg.stabilize.window <= 0 or dep.phase is not Phase.STABILIZE:
            op.finish(OpState.SUCCEEDED, f"{dep.version_of(target)} live on {target.value}")
            return dep
        deadline = op.op.deadline if op.op.step == "watching" and op.op.deadline else \
            time.time() + self.cfg.stabilize.window
        while True:
            op.step("watching", deadline=deadline)
            remaining = deadline - time.time()
            result = await self._watch(target, baseline, max(remaining, min(CATCH_UP, self.cfg.stabilize.window)),
                                       stop=op.stop)
            intent = op.intent
            if result.trigger is not None:
                if await self._router_was_down(target, result):
                    continue  # not the release's doing: keep watching it until the deadline
                break
            if intent is None:
                self.journal.record("stabilize", "ok", result.reason, checked(result.measurements))
                op.finish(OpState.SUCCEEDED, f"{dep.version_of(target)} live on {target.value}; {result.reason}")
                return self.current()
            with contextlib.suppress(TimeoutError):  # the command is switching: wait for its outcome
                await asyncio.wait_for(intent_settled(op), self.cfg.deploy.verify_timeout + 5)
            op.take_intent()
            now = self.current()
            if now.active is not target:  # the release did not stay: a deploy that ends so is not a success
                why = f"{intent.kind} by {intent.actor}: {intent.reason}"
                self.journal.record("stabilize", "ended", f"watch of {target.value} ended: {why}",
                                    checked(result.measurements))
                op.finish(OpState.ROLLED_BACK, why, Aborted.exit_code)
                raise Aborted(f"{dep.version_of(target)} was rolled back during its watch: {why}",
                              hint=f"{now.active.value} ({now.version_of(now.active)}) serves all traffic")
            if time.time() >= deadline:  # the command did not switch, and the window has passed
                self.journal.record("stabilize", "ok", result.reason, checked(result.measurements))
                op.finish(OpState.SUCCEEDED, f"{dep.version_of(target)} live on {target.value}")
                return now
        try:
            self.journal.lock(f"automatic rollback ({op.id})")
        except LockHeld as exc:
            self.journal.record("rollback", "refused", f"trigger {result.trigger} fired but {exc}")
            op.finish(OpState.FAILED, f"trigger {result.trigger} fired but {exc}", exc.exit_code)
            raise
        try:
            now = self.current()
            if now.active is not target or now.phase is not Phase.STABILIZE:  # their decision stands
                why = "someone else switched meanwhile: their decision stands"
                op.finish(OpState.ROLLED_BACK, why, Aborted.exit_code)
                raise Aborted(f"{dep.version_of(target)}: trigger {result.trigger} fired, but {why}",
                              hint=f"{now.active.value} ({now.version_of(now.active)}) serves all traffic")
            restored = await self._route_back(source, target, f"automatic: {result.reason}", result)
        finally:
            self.journal.unlock()
        message = f"{target.value} rolled back by trigger {result.reason}"
        op.finish(OpState.ROLLED_BACK, message, AutoRolledBack.exit_code)
        raise AutoRolledBack(message, hint=f"{source.value} ({restored.version_of(source)}) serves all traffic again")

    async def _router_was_down(self, target: Color, result: watch.WatchResult) -> bool:
        """A trigger that fired because the router itself stopped answering (every color is gone with
        it) says nothing of the release: the router is revived with the stored split, the watch goes on,
        and the release is not marked bad. Down now, or revived by the reconcile loop since the first
        failure the trigger counted."""
        if result.source == watch.TRAFFIC:
            return False  # the router counted the failing user requests: it was there
        since = (result.first_failure_at or result.detected_at or time.time()) - 1.0
        try:
            await self.router.observe()
        except RouterError as exc:
            try:
                await self._revive(exc)
            except RouterError:
                return False  # it stays down: the rollback path tries and says what failed
        else:
            revived = [e for e in self.store.history(self.app, 20) if e.at >= since and e.action == "reconcile"
                       and e.outcome == "repaired" and e.reason.startswith(ROUTER_REVIVED)]
            if not revived:
                return False
        if not (await self.runtime.status(target)).healthy:
            return False
        self.journal.record("stabilize", "continued", f"trigger {result.trigger} fired while the router was not "
                                                      f"answering; the router serves again and {target.value} is "
                                                      "still watched")
        return True

    async def _route_back(self, source: Color, target: Color, reason: str, result: watch.WatchResult) -> Deployment:
        bad = self.current().version_of(target)
        dep = await self._switch(self.current(), source, action="rollback", reason=reason,
                                 evidence=[result.evidence()], source=target)
        restored_at = dep.switched_at or time.time()
        first = result.first_failure_at or result.detected_at or restored_at
        ms = round((restored_at - first) * 1000, 1)
        timing = RollbackTiming(trigger=result.trigger or "", first_failure_at=first, detected_at=result.detected_at,
                                restored_at=restored_at, detect_to_restore_ms=ms)
        dep = self.journal.update(self.current().marked_bad(bad), action="rollback", outcome="measured",
                                  reason=f"trigger {result.trigger}: first failure to traffic restored in {ms:.0f} ms; "
                                         f"{bad} is marked bad", evidence=[timing])
        return dep

    # -- after a crash ------------------------------------------------------------------------------------------
    async def resume(self) -> Deployment:
        """Finish or undo a step cut short by a crash, from what the router really serves."""
        dep = self.current()
        if dep.phase not in phases.IN_PROGRESS or dep.target is None:
            return dep
        target = dep.target
        state = await self.router.observe()
        self.journal.lock("resume")
        try:
            if dep.phase is Phase.SWITCH and state.weights == Weights.all_to(target):
                return self.journal.advance(dep.switched(target, time.time()), Phase.STABILIZE, action="resume",
                                            outcome="ok", to_color=target,
                                            reason="switch had reached the router before the crash; completed")
            if state.weights != Weights.all_to(dep.active):
                await self.route_and_verify(Weights.all_to(dep.active))
            reason = f"interrupted in phase {dep.phase.value}; {dep.active.value} kept serving"
            kept = dep.kept()
            if dep.phase is not Phase.SWITCH:
                await self.runtime.stop(target, drain=0)
                kept = kept.dropped(target)
            return self.journal.advance(kept, Phase.ABORTED, action="resume", outcome="aborted", to_color=target,
                                        reason=reason)
        finally:
            self.journal.unlock()

    async def resume_operation(self, op: OpHandle) -> Deployment:
        """Go on with an operation a previous agent left running, from its step and what the router serves."""
        dep, record = self.current(), op.op
        baseline = watch.baseline_of(record.baseline)
        if record.step == "canary" and record.target is not None and record.deadline is not None \
                and dep.target is record.target and record.step_index < len(record.steps):
            served = (await self.router.observe()).weights
            if served == Weights.split(record.target, record.steps[record.step_index]):
                self.journal.record("resume", "ok", f"{op.id}: canary step {record.steps[record.step_index]}% "
                                                    "goes on after an agent restart")
                self.journal.lock(f"resume ({op.id})")
                try:
                    dep = await self._shift(op, record.target, record.steps, baseline, reason=f"resume {op.id}",
                                            first=record.step_index,
                                            first_window=max(record.deadline - time.time(), CATCH_UP))
                finally:
                    self.journal.unlock()
                return await self._stabilize(op, dep, baseline)
        dep = await self.resume()
        if record.step in ("switching", "canary", "watching") and record.target is not None \
                and dep.active is record.target and dep.phase is Phase.STABILIZE:
            if record.step != "watching":
                op.step("watching", deadline=time.time() + self.cfg.stabilize.window)
            self.journal.record("resume", "ok", f"{op.id}: watching {record.target.value} again after an agent "
                                                "restart")
            return await self._stabilize(op, dep, baseline)
        why = f"the agent restarted during step {record.step}; {dep.active.value} kept serving"
        op.finish(OpState.ABORTED, why, Aborted.exit_code)
        self.journal.record("resume", "aborted", f"{op.id}: {why}")
        return dep

    # -- retention and warm-up --------------------------------------------------------------------------------
    async def retire_if_due(self, now: float | None = None) -> bool:
        """Scale the old color down once the retention window has passed."""
        dep = self.current()
        if dep.phase in phases.IN_PROGRESS or dep.retire_at(self.cfg.deploy.retention) is None:
            return False
        if dep.rollback_open(now or time.time(), self.cfg.deploy.retention):
            return False
        return await self.scale_down(dep.idle, reason=f"retention window of {self.cfg.deploy.retention:.0f}s passed")

    async def scale_down(self, color: Color, *, reason: str = "manual scale-down") -> bool:
        self.journal.lock(f"scale down {color.value}")
        try:
            dep = self.current()
            if color is dep.active:
                raise NotReady(f"{color.value} is live; it cannot be scaled down")
            if dep.target is color:
                raise NotReady(f"a deploy is putting {dep.version_of(color)} on {color.value}")
            count = self.cfg.runtime.idle_instances
            if count:
                await self.runtime.scale(color, count)
            else:
                await self.runtime.stop(color)
            self.journal.update(self.current().retired(color), action="scale_down", outcome="ok",
                                reason=f"{color.value} to {count} instances: {reason}")
            return True
        finally:
            self.journal.unlock()

    async def warm(self, color: Color | None = None) -> Deployment:
        """Scale a cold color back up to full size; its retention window starts again."""
        dep = self.current()
        color = color or dep.idle
        version = dep.version_of(color)
        if version is None:
            raise NotReady(f"{color.value} never ran a release", hint="deploy one with `turnout deploy VERSION`")
        if dep.target is color:
            raise NotReady(f"a deploy is putting {version} on {color.value}")
        self.journal.lock(f"warm {color.value}")
        try:
            endpoints = await self.runtime.start(Release(version), color)
            await self.router.prepare({color: endpoints})
            until = time.strftime("%H:%M:%S", time.localtime(time.time() + self.cfg.deploy.retention))
            return self.journal.update(self.current().warmed(color, time.time()), action="warm", outcome="ok",
                                       reason=f"{color.value} running {version} on {len(endpoints)} instances; "
                                              f"a rollback target until {until}")
        finally:
            self.journal.unlock()


async def intent_settled(op: OpHandle) -> None:
    """Until the command that set the op's intent says it is done (see Intent.settled)."""
    if op.intent is not None:
        await op.intent.settled.wait()

