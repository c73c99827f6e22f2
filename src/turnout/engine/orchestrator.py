"""The only module that knows the order of steps: deploy, validate, switch, rollback, resume, retire.

Every state change goes through the journal (journal.py): it checks the phase table, saves
(compare-and-swap), appends the audit event and notifies webhooks, so they never drift apart.
Intent is saved before the router is touched and the outcome after, so `resume` can finish or undo
a step cut short by a crash.

    deploy: lock → pre-deploy hook → DEPLOY (expand migrations, start release on the idle color)
      → VALIDATE (checks on the test endpoint, judged by analysis) → [pause: promote/abort]
      → SWITCH (canary steps with a watch between them, then 100 %) → STABILIZE
      → unlock → watch the live color; a trigger → route back (ROLLED_BACK)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from turnout.checks.base import Check, Target
from turnout.config import Config
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
    ValidationFailed,
)
from turnout.migrate import Migrations
from turnout.model import Color, Deployment, Measurement, Phase, Release, Verdict, Weights
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
            self.journal.progress("start", {"color": "blue", "version": version})
            endpoints = await self.runtime.start(Release(version), Color.BLUE)
            await self.router.prepare({Color.BLUE: endpoints, Color.GREEN: []})
            await self._route_and_verify(Weights.all_to(Color.BLUE))
            return self.journal.advance(dep, Phase.INITIAL, action="bootstrap", outcome="ok", to_color=Color.BLUE,
                                        reason=f"{version} live on blue", active=Color.BLUE,
                                        versions={Color.BLUE: version, Color.GREEN: None},
                                        weights=Weights.all_to(Color.BLUE),
                                        warm={Color.BLUE: True, Color.GREEN: False}, switched_at=time.time())
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
            await self.journal.hook("pre-deploy", dep, f"deploy {version}")
            target, release = dep.idle, Release(version)
            dep = self.journal.advance(dep, Phase.DEPLOY, action="deploy", outcome="started", to_color=target,
                                       from_color=dep.active, reason=f"{version} to {target.value}", target=target,
                                       versions={**dep.versions, target: version}, warm={**dep.warm, target: False})
            await self._expand(dep, target)
            endpoints = await self._start(dep, target, release)
            dep = self.journal.advance(dep, Phase.VALIDATE, action="validate", outcome="started", to_color=target,
                                       warm={**dep.warm, target: True})
            gate = await self._gate(target, release, endpoints)
            if gate.verdict is not Verdict.PASS:
                await self._abort(dep, target, f"check {gate.reason}", gate.measurements)
                raise ValidationFailed(f"check {gate.reason}",
                                       hint=f"nothing was switched; {dep.active.value} still serves")
            dep = self.journal.advance(self.current(), Phase.VALIDATE, action="validate", outcome="ok", to_color=target,
                                       measurements=gate.measurements, reason=gate.reason, target=None)
            if pause or not switch:
                if pause:
                    self.journal.record("pause", "ok", f"{version} validated on {target.value}; "
                                                       "`turnout promote` switches, `turnout abort` stops it")
                return dep
            baseline = await self._baseline(dep, steps)
            dep = await self._shift(dep, target, steps, baseline, reason=f"deploy {version}")
        finally:
            self.journal.unlock()
        return await self._stabilize(dep, baseline)

    def _steps(self, steps: Sequence[int] | None) -> list[int]:
        chosen = list(steps if steps is not None else self.cfg.deploy.steps)
        if chosen and not self.router.can_split:
            raise TurnoutError(f"the {self.router.kind} router cannot split traffic; canary steps need one that can")
        if any(not 0 < p <= 100 for p in chosen) or chosen != sorted(set(chosen)):
            raise TurnoutError(f"canary steps must rise from 1 to 100 percent, got {chosen}")
        return [p for p in chosen if p < 100]

    async def _expand(self, dep: Deployment, target: Color) -> None:
        if self.migrations is None:
            return
        try:
            applied = await asyncio.to_thread(self.migrations.apply_expand)
        except MigrationError as exc:
            await self._abort(dep, target, f"expand migrations refused: {exc}", ())
            raise
        if applied:
            self.journal.record("migrate", "ok", f"expand: {', '.join(m.name for m in applied)}")

    async def _start(self, dep: Deployment, target: Color, release: Release) -> list[Any]:
        self.journal.progress("start", {"color": target.value, "version": release.version})
        try:
            endpoints = await self.runtime.start(release, target)
        except RuntimeFailure as exc:
            # Instances that never answer their readiness probe are a failed readiness check.
            reason = f"check readiness fail: {exc}"
            await self._abort(dep, target, reason, [Measurement("readiness", Verdict.FAIL, None, str(exc))])
            raise ValidationFailed(reason, hint=f"nothing was switched; {dep.active.value} still serves") from None
        try:
            await self.router.prepare({target: endpoints})
        except RouterError as exc:
            await self._abort(dep, target, str(exc), ())
            raise
        return endpoints

    async def _target(self, color: Color, release: Release) -> Target:
        state = await self.router.observe()
        status = await self.runtime.status(color)
        pids = ",".join(str(i.pid) for i in status.instances if i.pid)
        return Target(url=state.test_url, color=color, release=release, baseline_url=state.production_url,
                      endpoints=status.endpoints, extra={"pids": pids} if pids else {})

    async def _gate(self, target: Color, release: Release, endpoints: Sequence[Any]) -> gate.GateResult:
        state = await self.router.observe()
        if state.test_color is not target:
            m = Measurement("test-endpoint", Verdict.ERROR, state.test_color.value,
                            f"test endpoint serves {state.test_color.value}, expected {target.value}")
            return gate.GateResult(Verdict.ERROR, [m], m.check, f"test-endpoint error: {m.detail}")
        tgt = await self._target(target, release)
        return await gate.run_gate(self.checks, tgt, self.cfg.analysis,
                                       on_measurement=lambda m: self.journal.progress("measured", m.as_dict()))

    async def _abort(self, dep: Deployment, target: Color, reason: str, measurements: Sequence[Measurement]) -> None:
        self.journal.progress("abort", {"color": target.value, "reason": reason})
        try:
            await self.runtime.stop(target, drain=0)
        finally:
            self.journal.advance(self.current(), Phase.ABORTED, action="deploy", outcome="failed", to_color=target,
                                 reason=reason, measurements=measurements, target=None,
                                 warm={**dep.warm, target: False}, versions={**dep.versions, target: None})

    async def validate(self) -> list[Measurement]:
        """Re-run the checks against the idle color (test endpoint); switches nothing."""
        dep = self.current()
        status = await self.runtime.status(dep.idle)
        version = dep.version_of(dep.idle)
        if version is None or status.healthy == 0:
            raise NotReady(f"{dep.idle.value} runs nothing healthy to validate")
        gate = await self._gate(dep.idle, Release(version), status.endpoints)
        self.journal.record("validate", "ok" if gate.verdict is Verdict.PASS else "failed", gate.reason,
                            [m.as_dict() for m in gate.measurements])
        return gate.measurements

    # -- manual gate ------------------------------------------------------------------------------------
    async def promote(self, steps: Sequence[int] | None = None) -> Deployment:
        """Continue a paused deploy: canary steps, the switch, and the stabilize watch."""
        steps = self._steps(steps)
        self.journal.lock("promote")
        try:
            dep = self._paused()
            target = dep.idle
            await self._ensure_warm(dep, target, "promote")
            baseline = await self._baseline(dep, steps)
            dep = await self._shift(dep, target, steps, baseline, reason=f"promote {dep.version_of(target)}")
        finally:
            self.journal.unlock()
        return await self._stabilize(dep, baseline)

    async def abort(self, reason: str = "manual abort") -> Deployment:
        """Stop a paused (validated, not switched) release; the live color keeps serving."""
        self.journal.lock("abort")
        try:
            dep = self._paused()
            await self._abort(dep, dep.idle, reason, ())
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
                self.journal.progress("noop", {"reason": f"{target.value} already serves all traffic"})
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
                      measurements: Sequence[Measurement] = (), source: Color | None = None) -> Deployment:
        source = source or dep.active
        dep = self.journal.advance(dep, Phase.SWITCH, action=action, outcome="started", from_color=source,
                                   to_color=target,
                                   reason=reason, target=target)
        started = time.monotonic()
        try:
            routed = await self._route_and_verify(Weights.all_to(target))
        except TurnoutError as exc:
            await self._restore(source, target, action, exc)
            raise
        timing = Measurement("switch_ms", Verdict.PASS, round((time.monotonic() - started) * 1000, 2),
                             data={"routed_at": routed})
        final = Phase.ROLLED_BACK if action == "rollback" else Phase.STABILIZE
        dep = self.journal.advance(self.current(), final, action=action, outcome="ok", from_color=source,
                                   to_color=target,
                                   reason=reason, measurements=[timing, *measurements], active=target,
                                   weights=Weights.all_to(target), target=None, switched_at=time.time())
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
        self.journal.advance(self.current(), Phase.ABORTED, action=action, outcome="failed", from_color=source,
                             to_color=target, reason=str(exc), target=None, weights=Weights.all_to(source))

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
            dep = self.journal.advance(self.current(), Phase.SWITCH, action="canary", outcome="started",
                                       from_color=source,
                                       to_color=target, reason=f"{pct}% to {target.value}", target=target)
            try:
                await self._route_and_verify(Weights.split(target, pct))
            except TurnoutError as exc:
                await self._restore(source, target, "canary", exc)
                raise
            self.store.save(replace(self.current(), weights=Weights.split(target, pct)))
            result = await self._watch(target, dep, baseline, self.cfg.deploy.step_window, dominant=pct > 50)
            if result.trigger is not None:
                await self._route_back(source, target, f"canary step {pct}% failed: {result.reason}", result)
                raise AutoRolledBack(f"canary step {pct}% failed: {result.reason}",
                                     hint=f"{source.value} serves all traffic again")
            self.journal.record("canary", "ok", f"{pct}% to {target.value} held for {self.cfg.deploy.step_window:g}s",
                                [m.as_dict() for m in result.measurements])
        return await self._switch(self.current(), target, action="switch", reason=reason)

    async def _watch(self, color: Color, dep: Deployment, baseline: watch.Baseline | None, window: float,
                     *, dominant: bool = True) -> watch.WatchResult:
        stab = self.cfg.stabilize
        state = await self.router.observe()
        # Probe where the color gets the traffic: the production URL once it has the majority,
        # the test endpoint (which serves the non-dominant color) while it is a small canary.
        url = state.production_url if dominant else state.test_url
        tgt = Target(url=url, color=color, release=Release(dep.version_of(color) or ""))
        self.journal.progress("watch", {"color": color.value, "window": window, "url": url})
        return await watch.watch(watch.triggers_for(stab), tgt, interval=stab.interval, window=window,
                                    baseline=baseline, probe_cfg=stab.probe, stop=self.stop_watch)

    async def _stabilize(self, dep: Deployment, baseline: watch.Baseline | None) -> Deployment:
        """Watch the new live color for stabilize.window; a trigger switches straight back."""
        if self.cfg.stabilize.window <= 0 or dep.phase is not Phase.STABILIZE:
            return dep
        target, source = dep.active, dep.idle
        result = await self._watch(target, dep, baseline, self.cfg.stabilize.window)
        if result.trigger is None:
            self.journal.record("stabilize", "ok", result.reason, [m.as_dict() for m in result.measurements])
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

    async def _route_back(self, source: Color, target: Color, reason: str,
                          result: watch.WatchResult) -> Deployment:
        info = Measurement("trigger", Verdict.FAIL, result.trigger, result.reason, data=result.as_dict())
        dep = await self._switch(self.current(), source, action="rollback", reason=reason, measurements=[info],
                                 source=target)
        restored_at = dep.switched_at or time.time()
        first = result.first_failure_at or result.detected_at or restored_at
        ms = round((restored_at - first) * 1000, 1)
        timing = {"trigger": result.trigger, "first_failure_at": first, "detected_at": result.detected_at,
                  "restored_at": restored_at, "detect_to_restore_ms": ms}
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
                return self.journal.advance(dep, Phase.STABILIZE, action="resume", outcome="ok", to_color=target,
                                            reason="switch had reached the router before the crash; completed",
                                            active=target, weights=state.weights, target=None, switched_at=time.time())
            if state.weights != Weights.all_to(dep.active):
                await self._route_and_verify(Weights.all_to(dep.active))
            reason = f"interrupted in phase {dep.phase.value}; {dep.active.value} kept serving"
            changes: dict[str, Any] = {"target": None, "weights": Weights.all_to(dep.active)}
            if dep.phase is not Phase.SWITCH:
                await self.runtime.stop(target, drain=0)
                changes.update(warm={**dep.warm, target: False}, versions={**dep.versions, target: None})
            return self.journal.advance(dep, Phase.ABORTED, action="resume", outcome="aborted", to_color=target,
                                        reason=reason, **changes)
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
        old = dep.idle
        if dep.phase in phases.IN_PROGRESS or not dep.warm.get(old) or dep.switched_at is None:
            return False
        if (now or time.time()) - dep.switched_at < self.cfg.deploy.retention:
            return False
        return await self.scale_down(old, reason=f"retention window of {self.cfg.deploy.retention:.0f}s passed")

    async def scale_down(self, color: Color, *, reason: str = "manual scale-down") -> bool:
        dep = self.current()
        if color is dep.active:
            raise NotReady(f"{color.value} is live; it cannot be scaled down")
        count = self.cfg.runtime.idle_instances
        if count:
            await self.runtime.scale(color, count)
        else:
            await self.runtime.stop(color)
        self.store.save(replace(dep, warm={**dep.warm, color: False}))
        self.journal.record("scale_down", "ok", f"{color.value} to {count} instances: {reason}")
        return True

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
            dep = self.store.save(replace(self.current(), warm={**dep.warm, color: True}))
            self.journal.record("warm", "ok", f"{color.value} running {version} on {len(endpoints)} instances")
            return dep
        finally:
            self.journal.unlock()
