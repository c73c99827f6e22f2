"""The only module that knows the order of steps: deploy, validate, switch, rollback, resume, retire.

Every state change goes through the journal (journal.py) as a named transition of the deployment
(model.Deployment): it checks the phase table, saves (compare-and-swap), appends the audit event
and notifies webhooks, so they never drift apart. Intent is saved before the router is touched and
the outcome after, so `resume` can finish or undo a step cut short by a crash.

    deploy: lock → pre-deploy hook → DEPLOY (expand migrations, start release on the idle color)
      → VALIDATE (checks on the test endpoint, judged by the gate) → [pause: promote/abort]
      → SWITCH (canary steps with a watch between them, then 100 %) → STABILIZE
      → unlock → watch the live color; a trigger → route back (ROLLED_BACK)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from turnout.checks.base import Check, Target
from turnout.config import Config, canary_steps
from turnout.engine import gate, phases, watch
from turnout.engine.journal import Journal, Progress, quiet
from turnout.errors import (
    AutoRolledBack,
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
from turnout.events import Aborting, Evidence, Measured, Noop, RollbackTiming, Starting, SwitchTiming, Watching, checked
from turnout.migrate import Migrations
from turnout.model import Color, Deployment, Endpoint, Measurement, Phase, Release, Verdict, Weights
from turnout.notify import Notifier
from turnout.routers.base import Router
from turnout.runtimes.base import Runtime
from turnout.store.base import Store


class Orchestrator:
    def __init__(self, cfg: Config, store: Store, router: Router, runtime: Runtime, checks: Sequence[Check],
                 *, actor: str, progress: Progress = quiet, notifier: Notifier | None = None,
                 migrations: Migrations | None = None, stop_watch: asyncio.Event | None = None) -> None:
        self.cfg, self.store, self.router, self.runtime = cfg, store, router, runtime
        self.checks = list(checks)
        self.actor = actor
        self.migrations = migrations
        self.stop_watch = stop_watch  # set by whoever starts the next operation: ends a running watch
        self.app = cfg.app.name
        # the lock holder is unique per operation, so two operations never share the lock
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
        self.journal.lock(f"bootstrap {version}")
        try:
            dep = self.current()
            if dep.version_of(dep.active) is not None:
                return dep
            self.progress(Starting(color=Color.BLUE, version=version))
            endpoints = await self.runtime.start(Release(version), Color.BLUE)
            await self.router.prepare({Color.BLUE: endpoints, Color.GREEN: []})
            await self._route_and_verify(Weights.all_to(Color.BLUE))
            return self.journal.advance(dep.bootstrapped(version, time.time()), Phase.INITIAL, action="bootstrap",
                                        outcome="ok", to_color=Color.BLUE, reason=f"{version} live on blue")
        finally:
            self.journal.unlock()

    # -- deploy ---------------------------------------------------------------------------------------
    async def deploy(self, version: str, *, switch: bool = True, pause: bool = False,
                     steps: Sequence[int] | None = None) -> Deployment:
        """Put `version` on the idle color, validate it, then (unless paused) shift traffic to it."""
        steps = self._steps(steps)
        self.journal.lock(f"deploy {version}")
        try:
            dep = self.current()
            if dep.phase in phases.IN_PROGRESS and dep.target is not None:
                raise TurnoutError(f"{self.app}: a deploy was interrupted in phase {dep.phase.value}",
                                   hint="restart the agent (`turnout up`) to resume it")
            if dep.version_of(dep.active) is None:
                raise NotReady(f"{self.app} has no live release yet", hint="start one with `turnout up --version V`")
            await self.journal.hook("pre-deploy", dep, f"deploy {version}", version=version)
            target, release = dep.idle, Release(version)
            dep = self.journal.advance(dep.starting(target, version), Phase.DEPLOY, action="deploy",
                                       outcome="started", from_color=dep.active, to_color=target,
                                       reason=f"{version} to {target.value}")
            await self._expand(target)
            endpoints = await self._start(target, release)
            dep = self.journal.advance(self.current().ready(target), Phase.VALIDATE, action="validate",
                                       outcome="started", to_color=target)
            result = await self._gate(target, release, endpoints)
            if result.verdict is not Verdict.PASS:
                await self._abort(target, f"check {result.reason}", checked(result.measurements))
                raise ValidationFailed(f"check {result.reason}",
                                       hint=f"nothing was switched; {dep.active.value} still serves")
            dep = self.journal.advance(self.current().validated(), Phase.VALIDATE, action="validate", outcome="ok",
                                       to_color=target, reason=result.reason, evidence=checked(result.measurements))
            if pause or not switch:
                if pause:
                    self.journal.record("pause", "ok", f"{version} validated on {target.value}; "
                                                       "`turnout promote` switches, `turnout abort` stops it")
                return dep
            dep, baseline = await self._go_live(dep, target, steps, reason=f"deploy {version}")
        finally:
            self.journal.unlock()
        return await self._stabilize(dep, baseline)

    async def _go_live(self, dep: Deployment, target: Color, steps: Sequence[int], *, reason: str
                       ) -> tuple[Deployment, watch.Baseline | None]:
        """Measure the live color's baseline, then shift traffic to `target` (canary steps, then 100 %)."""
        baseline = await self._baseline(dep, steps)
        return await self._shift(dep, target, steps, baseline, reason=reason), baseline

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
        try:
            endpoints = await self.runtime.start(release, target)
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
        self.progress(Aborting(color=target, reason=reason))
        try:
            await self.runtime.stop(target, drain=0)
        finally:
            self.journal.advance(self.current().dropped(target), Phase.ABORTED, action="deploy", outcome="failed",
                                 to_color=target, reason=reason, evidence=evidence)

    async def validate(self) -> list[Measurement]:
        """Re-run the checks against the idle color (test endpoint); switches nothing."""
        dep = self.current()
        status = await self.runtime.status(dep.idle)
        version = dep.version_of(dep.idle)
        if version is None or status.healthy == 0:
            raise NotReady(f"{dep.idle.value} runs nothing healthy to validate")
        result = await self._gate(dep.idle, Release(version), status.endpoints)
        self.journal.record("validate", "ok" if result.verdict is Verdict.PASS else "failed", result.reason,
                            checked(result.measurements))
        return result.measurements

    # -- manual gate ------------------------------------------------------------------------------------
    async def promote(self, steps: Sequence[int] | None = None) -> Deployment:
        """Continue a paused deploy: canary steps, the switch, and the stabilize watch."""
        steps = self._steps(steps)
        self.journal.lock("promote")
        try:
            dep = self._paused()
            target = dep.idle
            await self._ensure_warm(dep, target, "promote")
            dep, baseline = await self._go_live(dep, target, steps, reason=f"promote {dep.version_of(target)}")
        finally:
            self.journal.unlock()
        return await self._stabilize(dep, baseline)

    async def abort(self, reason: str = "manual abort") -> Deployment:
        """Stop a paused (validated, not switched) release; the live color keeps serving."""
        self.journal.lock("abort")
        try:
            dep = self._paused()
            await self._abort(dep.idle, reason)
            return self.current()
        finally:
            self.journal.unlock()

    def _paused(self) -> Deployment:
        dep = self.current()
        if dep.phase is not Phase.VALIDATE or dep.target is not None:
            raise NotReady(f"no validated release is waiting for promotion (phase {dep.phase.value})",
                           hint="`turnout deploy VERSION --pause-before-switch` leaves one")
        return dep

    # -- switch and rollback ------------------------------------------------------------------------------
    async def switch(self, to: Color | None = None, *, rollback: bool = False, reason: str = "") -> Deployment:
        action = "rollback" if rollback else "switch"
        self.journal.lock(action)
        try:
            dep = self.current()
            target = to or dep.idle
            if target is dep.active and dep.weights == Weights.all_to(target) and dep.phase not in phases.IN_PROGRESS:
                self.progress(Noop(reason=f"{target.value} already serves all traffic"))
                return dep
            await self._ensure_warm(dep, target, action)
            return await self._switch(dep, target, action=action, reason=reason or f"manual {action}")
        finally:
            self.journal.unlock()

    async def rollback(self, reason: str = "") -> Deployment:
        return await self.switch(None, rollback=True, reason=reason or "manual rollback")

    async def _ensure_warm(self, dep: Deployment, target: Color, action: str) -> None:
        version = dep.version_of(target)
        status = await self.runtime.status(target)
        if version is None or not dep.warm.get(target) or not status.instances:
            self.journal.record(action, "refused", f"{target.value} is not warm")
            if version is None:
                raise NotReady(f"cannot {action}: {target.value} runs no release",
                               hint="deploy one with `turnout deploy VERSION`")
            raise NotReady(f"cannot {action}: {target.value} ({version}) was scaled down",
                           hint=f"warm it up with `turnout warm {target.value}`, "
                                f"or redeploy the previous version: `turnout deploy {version}`")
        if status.healthy == 0:
            self.journal.record(action, "refused", f"{target.value} has no healthy instance")
            raise NotReady(f"cannot {action}: no instance of {target.value} ({version}) is healthy",
                           hint="check its logs in the state folder, or redeploy")
        await self.router.prepare({target: status.endpoints})

    async def _switch(self, dep: Deployment, target: Color, *, action: str, reason: str,
                      evidence: Sequence[Evidence] = (), source: Color | None = None) -> Deployment:
        source = source or dep.active
        dep = self.journal.advance(dep.switching(target), Phase.SWITCH, action=action, outcome="started",
                                   from_color=source, to_color=target, reason=reason)
        started = time.monotonic()
        try:
            routed = await self._route_and_verify(Weights.all_to(target))
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
            await self._route_and_verify(Weights.all_to(source))
        except TurnoutError as back:
            self.journal.advance(self.current(), Phase.SWITCH, action=action, outcome="failed", reason=str(back))
            raise RollbackFailed(f"{action} to {target.value} failed ({exc}) and so did restoring "
                                 f"{source.value}: {back}") from None
        self.journal.advance(self.current().kept(source), Phase.ABORTED, action=action, outcome="failed",
                             from_color=source, to_color=target, reason=str(exc))

    async def _route_and_verify(self, weights: Weights) -> float:
        """Ask the router for a split and poll it until it really serves it (never trust route()).

        Returns the wall-clock moment route() returned: the switch command's end, for timing.
        """
        await self.router.route(weights)
        routed_at = time.time()
        deadline = time.monotonic() + self.cfg.deploy.verify_timeout
        while True:
            state = await self.router.observe()
            if state.weights == weights:
                return routed_at
            if time.monotonic() > deadline:
                raise RouterError(f"router still serves {state.weights.as_dict()} after "
                                  f"{self.cfg.deploy.verify_timeout:.0f}s, asked for {weights.as_dict()}")
            await asyncio.sleep(0.05)

    # -- canary steps and the stabilize watch ---------------------------------------------------------------
    async def _baseline(self, dep: Deployment, steps: Sequence[int]) -> watch.Baseline | None:
        """The live color's behaviour before the switch, what the new one is held against afterwards."""
        stab = self.cfg.stabilize
        if stab.window <= 0 and not steps:
            return None
        state = await self.router.observe()
        tgt = Target(url=state.production_url, color=dep.active, release=Release(dep.version_of(dep.active) or ""))
        return await watch.measure_baseline(tgt, stab)

    async def _shift(self, dep: Deployment, target: Color, steps: Sequence[int], baseline: watch.Baseline | None,
                     *, reason: str) -> Deployment:
        """Canary steps (each watched for deploy.step_window), then all traffic to `target`."""
        source = dep.active
        for pct in steps:
            dep = self.journal.advance(self.current().switching(target), Phase.SWITCH, action="canary",
                                       outcome="started", from_color=source, to_color=target,
                                       reason=f"{pct}% to {target.value}")
            split = Weights.split(target, pct)
            try:
                await self._route_and_verify(split)
            except TurnoutError as exc:
                await self._restore(source, target, "canary", exc)
                raise
            dep = self.journal.update(self.current().shifted(split), action="canary", outcome="shifted",
                                      from_color=source, to_color=target, reason=f"router serves {pct}% to "
                                                                                 f"{target.value}")
            result = await self._watch(target, dep, baseline, self.cfg.deploy.step_window, dominant=pct > 50)
            if result.trigger is not None:
                await self._route_back(source, target, f"canary step {pct}% failed: {result.reason}", result)
                raise AutoRolledBack(f"canary step {pct}% failed: {result.reason}",
                                     hint=f"{source.value} serves all traffic again")
            self.journal.record("canary", "ok", f"{pct}% to {target.value} held for {self.cfg.deploy.step_window:g}s",
                                checked(result.measurements))
        return await self._switch(self.current(), target, action="switch", reason=reason)

    async def _watch(self, color: Color, dep: Deployment, baseline: watch.Baseline | None, window: float,
                     *, dominant: bool = True) -> watch.WatchResult:
        stab = self.cfg.stabilize
        state = await self.router.observe()
        # Probe where the color gets the traffic: the production URL once it has the majority,
        # the test endpoint (which serves the non-dominant color) while it is a small canary.
        url = state.production_url if dominant else state.test_url
        tgt = Target(url=url, color=color, release=Release(dep.version_of(color) or ""))
        self.progress(Watching(color=color, window=window, url=url))
        return await watch.watch(watch.triggers_for(stab), tgt, interval=stab.interval, window=window,
                                 baseline=baseline, probe_cfg=stab.probe, stop=self.stop_watch)

    async def _stabilize(self, dep: Deployment, baseline: watch.Baseline | None) -> Deployment:
        """Watch the new live color for stabilize.window; a trigger switches straight back."""
        if self.cfg.stabilize.window <= 0 or dep.phase is not Phase.STABILIZE:
            return dep
        target, source = dep.active, dep.idle
        result = await self._watch(target, dep, baseline, self.cfg.stabilize.window)
        if result.trigger is None:
            self.journal.record("stabilize", "ok", result.reason, checked(result.measurements))
            return self.current()
        try:
            self.journal.lock("automatic rollback")
        except LockHeld as exc:
            self.journal.record("rollback", "refused", f"trigger {result.trigger} fired but {exc}")
            raise
        try:
            now = self.current()
            if now.active is not target or now.phase is not Phase.STABILIZE:
                return now  # someone else switched meanwhile: their decision stands
            restored = await self._route_back(source, target, f"automatic: {result.reason}", result)
        finally:
            self.journal.unlock()
        raise AutoRolledBack(f"{target.value} rolled back by trigger {result.reason}",
                             hint=f"{source.value} ({restored.version_of(source)}) serves all traffic again")

    async def _route_back(self, source: Color, target: Color, reason: str, result: watch.WatchResult) -> Deployment:
        dep = await self._switch(self.current(), source, action="rollback", reason=reason,
                                 evidence=[result.evidence()], source=target)
        restored_at = dep.switched_at or time.time()
        first = result.first_failure_at or result.detected_at or restored_at
        ms = round((restored_at - first) * 1000, 1)
        timing = RollbackTiming(trigger=result.trigger or "", first_failure_at=first, detected_at=result.detected_at,
                                restored_at=restored_at, detect_to_restore_ms=ms)
        self.journal.record("rollback", "measured",
                            f"trigger {result.trigger}: first failure to traffic restored in {ms:.0f} ms", [timing])
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
                await self._route_and_verify(Weights.all_to(dep.active))
            reason = f"interrupted in phase {dep.phase.value}; {dep.active.value} kept serving"
            kept = dep.kept()
            if dep.phase is not Phase.SWITCH:
                await self.runtime.stop(target, drain=0)
                kept = kept.dropped(target)
            return self.journal.advance(kept, Phase.ABORTED, action="resume", outcome="aborted", to_color=target,
                                        reason=reason)
        finally:
            self.journal.unlock()

    async def reconcile(self) -> None:
        """At start: give the router every color's instances, finish or undo an interrupted step
        (resume), then make the router serve the stored split again if it drifted."""
        backends = {c: (await self.runtime.status(c)).endpoints for c in Color}
        await self.router.prepare(backends)
        dep = await self.resume()
        state = await self.router.observe()
        if dep.phase not in phases.IN_PROGRESS and state.weights != dep.weights:
            self.journal.record("reconcile", "ok", f"router served {state.weights.as_dict()}; restored "
                                                   f"{dep.weights.as_dict()} from the state store")
            await self._route_and_verify(dep.weights)

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
            if color is self.current().active:
                raise NotReady(f"{color.value} is live; it cannot be scaled down")
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
        """Scale a cold color back up to full size so it can be switched to again."""
        dep = self.current()
        color = color or dep.idle
        version = dep.version_of(color)
        if version is None:
            raise NotReady(f"{color.value} never ran a release", hint="deploy one with `turnout deploy VERSION`")
        self.journal.lock(f"warm {color.value}")
        try:
            endpoints = await self.runtime.start(Release(version), color)
            await self.router.prepare({color: endpoints})
            return self.journal.update(self.current().warmed(color), action="warm", outcome="ok",
                                       reason=f"{color.value} running {version} on {len(endpoints)} instances")
        finally:
            self.journal.unlock()

