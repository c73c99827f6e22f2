"""The only module that knows the order of steps: deploy, validate, switch, rollback, resume, retire.

Every state change goes through `_advance`: it checks the phase table, saves (compare-and-swap)
and appends the audit event, so state, audit and log never drift. Intent is saved before the
router is touched and the outcome after, so `resume` can finish or undo a step cut short by a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from turnout import phases
from turnout.config import Config
from turnout.errors import NotReady, RollbackFailed, RouterError, RuntimeFailure, TurnoutError, ValidationFailed
from turnout.model import AuditEvent, Color, Deployment, Measurement, Phase, Release, Verdict, Weights
from turnout.protocols import Check, Router, Runtime, Store, Target

log = logging.getLogger("turnout")
Progress = Callable[[str, dict[str, Any]], None]


def _quiet(step: str, data: dict[str, Any]) -> None:
    log.info("%s %s", step, data)


class Orchestrator:
    def __init__(self, cfg: Config, store: Store, router: Router, runtime: Runtime, checks: Sequence[Check],
                 *, actor: str, progress: Progress = _quiet) -> None:
        self.cfg, self.store, self.router, self.runtime = cfg, store, router, runtime
        self.checks = list(checks)
        self.actor = actor
        self.progress = progress
        self.app = cfg.app.name

    # -- bookkeeping ------------------------------------------------------------------------------
    def current(self) -> Deployment:
        return self.store.load(self.app)

    def _advance(self, dep: Deployment, phase: Phase, *, action: str, outcome: str, reason: str = "",
                 measurements: Sequence[Measurement] = (), from_color: Color | None = None,
                 to_color: Color | None = None, **changes: Any) -> Deployment:
        phases.check(dep.phase, phase)
        saved = self.store.save(replace(dep, phase=phase, **changes))
        self.store.append(AuditEvent(
            app=self.app, action=action, outcome=outcome, actor=self.actor, phase=phase,
            from_color=from_color, to_color=to_color, reason=reason,
            versions={c.value: v for c, v in saved.versions.items()},
            measurements=[m.as_dict() for m in measurements]))
        self.progress(f"{action}:{outcome}", {
            "at": time.time(), "phase": phase.value, "reason": reason, "from": from_color.value if from_color else None,
            "to": to_color.value if to_color else None, "measurements": [m.as_dict() for m in measurements]})
        return saved

    def _record(self, action: str, outcome: str, reason: str = "", **extra: Any) -> None:
        """An audit event that changes no state (refusals, drift, measurements)."""
        dep = self.current()
        self.store.append(AuditEvent(app=self.app, action=action, outcome=outcome, actor=self.actor,
                                     phase=dep.phase, reason=reason,
                                     versions={c.value: v for c, v in dep.versions.items()}, **extra))
        self.progress(f"{action}:{outcome}", {"reason": reason})

    def _lock(self, purpose: str) -> None:
        self.store.acquire_lock(self.app, self.actor, purpose)

    def _unlock(self) -> None:
        self.store.release_lock(self.app, self.actor)

    # -- first release -------------------------------------------------------------------------------
    async def bootstrap(self, version: str) -> Deployment:
        """Start the first release on blue and point all traffic at it."""
        self._lock(f"bootstrap {version}")
        try:
            dep = self.current()
            if dep.version_of(dep.active) is not None:
                return dep
            self.progress("start", {"color": "blue", "version": version})
            endpoints = await self.runtime.start(Release(version), Color.BLUE)
            await self.router.prepare({Color.BLUE: endpoints, Color.GREEN: []})
            await self._route_and_verify(Weights.all_to(Color.BLUE))
            versions = {Color.BLUE: version, Color.GREEN: None}
            return self._advance(dep, Phase.INITIAL, action="bootstrap", outcome="ok", to_color=Color.BLUE,
                                 reason=f"{version} live on blue", active=Color.BLUE, versions=versions,
                                 weights=Weights.all_to(Color.BLUE), warm={Color.BLUE: True, Color.GREEN: False},
                                 switched_at=time.time())
        finally:
            self._unlock()

    # -- deploy ---------------------------------------------------------------------------------------
    async def deploy(self, version: str, *, switch: bool = True) -> Deployment:
        self._lock(f"deploy {version}")
        try:
            dep = self.current()
            if dep.phase in phases.IN_PROGRESS and dep.target is not None:
                raise TurnoutError(f"{self.app}: a deploy was interrupted in phase {dep.phase.value}",
                                   hint="restart the agent (`turnout up`) to resume it")
            if dep.version_of(dep.active) is None:
                raise NotReady(f"{self.app} has no live release yet", hint="start one with `turnout up --version V`")
            target = dep.idle
            release = Release(version)
            dep = self._advance(dep, Phase.DEPLOY, action="deploy", outcome="started", to_color=target,
                                from_color=dep.active, reason=f"{version} to {target.value}", target=target,
                                versions={**dep.versions, target: version}, warm={**dep.warm, target: False})
            self.progress("start", {"color": target.value, "version": version})
            try:
                endpoints = await self.runtime.start(release, target)
            except RuntimeFailure as exc:
                # Instances that never answer their readiness probe are a failed readiness check.
                m = Measurement("readiness", Verdict.FAIL, None, str(exc))
                reason = f"check readiness fail: {exc}"
                await self._abort(dep, target, reason, [m])
                raise ValidationFailed(reason, hint=f"nothing was switched; {dep.active.value} still serves") from None
            try:
                await self.router.prepare({target: endpoints})
            except RouterError as exc:
                await self._abort(dep, target, str(exc), ())
                raise
            dep = self._advance(dep, Phase.VALIDATE, action="validate", outcome="started", to_color=target,
                                warm={**dep.warm, target: True})
            measurements = await self._validate(dep, target, release, tuple(endpoints))
            failed = next((m for m in measurements if m.verdict is not Verdict.PASS), None)
            if failed is not None:
                reason = f"check {failed.check} {failed.verdict.value}: {failed.detail}"
                await self._abort(dep, target, reason, measurements)
                raise ValidationFailed(reason, hint=f"nothing was switched; {dep.active.value} still serves")
            dep = self._advance(self.current(), Phase.VALIDATE, action="validate", outcome="ok", to_color=target,
                                measurements=measurements, reason=f"{len(measurements)} checks passed",
                                target=None)
            if not switch:
                return dep
            return await self._switch(dep, target, action="switch", reason=f"deploy {version}")
        finally:
            self._unlock()

    async def _validate(self, dep: Deployment, target: Color, release: Release,
                        endpoints: tuple[Any, ...]) -> list[Measurement]:
        state = await self.router.observe()
        if state.test_color is not target:
            return [Measurement("test-endpoint", Verdict.ERROR, state.test_color.value,
                                f"test endpoint serves {state.test_color.value}, expected {target.value}")]
        tgt = Target(url=state.test_url, color=target, release=release, baseline_url=state.production_url,
                     endpoints=endpoints)
        results: list[Measurement] = []
        for check in self.checks:
            self.progress("check", {"check": check.name, "color": target.value})
            try:
                m = await check.measure(tgt)
            except TurnoutError as exc:
                m = Measurement(check.name, Verdict.ERROR, None, str(exc))
            results.append(m)
            self.progress("measured", m.as_dict())
            if m.verdict is not Verdict.PASS:
                break
        return results

    async def _abort(self, dep: Deployment, target: Color, reason: str, measurements: Sequence[Measurement]) -> None:
        self.progress("abort", {"color": target.value, "reason": reason})
        try:
            await self.runtime.stop(target, drain=0)
        finally:
            self._advance(self.current(), Phase.ABORTED, action="deploy", outcome="failed", to_color=target,
                          reason=reason, measurements=measurements, target=None,
                          warm={**dep.warm, target: False}, versions={**dep.versions, target: None})

    async def validate(self) -> list[Measurement]:
        """Re-run the checks against the idle color (test endpoint); switches nothing."""
        dep = self.current()
        status = await self.runtime.status(dep.idle)
        version = dep.version_of(dep.idle)
        if version is None or status.healthy == 0:
            raise NotReady(f"{dep.idle.value} runs nothing healthy to validate")
        results = await self._validate(dep, dep.idle, Release(version), status.endpoints)
        ok = all(m.verdict is Verdict.PASS for m in results)
        self._record("validate", "ok" if ok else "failed", measurements=[m.as_dict() for m in results])
        return results

    # -- switch and rollback ------------------------------------------------------------------------------
    async def switch(self, to: Color | None = None, *, rollback: bool = False, reason: str = "") -> Deployment:
        action = "rollback" if rollback else "switch"
        self._lock(action)
        try:
            dep = self.current()
            target = to or dep.idle
            if target is dep.active and dep.weights == Weights.all_to(target) and dep.phase not in phases.IN_PROGRESS:
                self.progress("noop", {"reason": f"{target.value} already serves all traffic"})
                return dep
            await self._ensure_warm(dep, target, action)
            return await self._switch(dep, target, action=action, reason=reason or f"manual {action}")
        finally:
            self._unlock()

    async def _ensure_warm(self, dep: Deployment, target: Color, action: str) -> None:
        version = dep.version_of(target)
        status = await self.runtime.status(target)
        if version is None or not dep.warm.get(target) or not status.instances:
            self._record(action, "refused", f"{target.value} is not warm")
            if version is None:
                raise NotReady(f"cannot {action}: {target.value} runs no release",
                               hint="deploy one with `turnout deploy VERSION`")
            raise NotReady(f"cannot {action}: {target.value} ({version}) was scaled down",
                           hint=f"warm it up with `turnout warm {target.value}`, "
                                f"or redeploy the previous version: `turnout deploy {version}`")
        if status.healthy == 0:
            self._record(action, "refused", f"{target.value} has no healthy instance")
            raise NotReady(f"cannot {action}: no instance of {target.value} ({version}) is healthy",
                           hint="check its logs in the state folder, or redeploy")
        await self.router.prepare({target: status.endpoints})

    async def _switch(self, dep: Deployment, target: Color, *, action: str, reason: str) -> Deployment:
        source = dep.active
        dep = self._advance(dep, Phase.SWITCH, action=action, outcome="started", from_color=source, to_color=target,
                            reason=reason, target=target)
        started = time.monotonic()
        try:
            routed = await self._route_and_verify(Weights.all_to(target))
        except TurnoutError as exc:
            # Put traffic back where it was; if that fails too, say so loudly.
            try:
                await self._route_and_verify(Weights.all_to(source))
            except TurnoutError as back:
                self._advance(self.current(), Phase.SWITCH, action=action, outcome="failed", reason=str(back))
                raise RollbackFailed(f"switch to {target.value} failed ({exc}) and so did restoring "
                                     f"{source.value}: {back}") from None
            self._advance(self.current(), Phase.ABORTED, action=action, outcome="failed", from_color=source,
                          to_color=target, reason=str(exc), target=None)
            raise
        ms = round((time.monotonic() - started) * 1000, 2)
        final = Phase.ROLLED_BACK if action == "rollback" else Phase.STABILIZE
        timing = Measurement("switch_ms", Verdict.PASS, ms, data={"routed_at": routed})
        return self._advance(self.current(), final, action=action, outcome="ok", from_color=source, to_color=target,
                             reason=reason, measurements=[timing],
                             active=target, weights=Weights.all_to(target), target=None, switched_at=time.time())

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

    async def rollback(self, reason: str = "") -> Deployment:
        return await self.switch(None, rollback=True, reason=reason or "manual rollback")

    # -- after a crash ------------------------------------------------------------------------------------------
    async def resume(self) -> Deployment:
        """Finish or undo a step cut short by a crash, from what the router really serves."""
        dep = self.current()
        if dep.phase not in phases.IN_PROGRESS or dep.target is None:
            return dep
        target = dep.target
        state = await self.router.observe()
        self._lock("resume")
        try:
            if dep.phase is Phase.SWITCH and state.weights == Weights.all_to(target):
                return self._advance(dep, Phase.STABILIZE, action="resume", outcome="ok", to_color=target,
                                     reason="switch had reached the router before the crash; completed",
                                     active=target, weights=state.weights, target=None, switched_at=time.time())
            if state.weights != Weights.all_to(dep.active):
                await self._route_and_verify(Weights.all_to(dep.active))
            reason = f"interrupted in phase {dep.phase.value}; {dep.active.value} kept serving"
            if dep.phase is not Phase.SWITCH:
                await self.runtime.stop(target, drain=0)
                return self._advance(dep, Phase.ABORTED, action="resume", outcome="aborted", to_color=target,
                                     reason=reason, target=None, warm={**dep.warm, target: False})
            return self._advance(dep, Phase.ABORTED, action="resume", outcome="aborted", to_color=target,
                                 reason=reason, target=None)
        finally:
            self._unlock()

    async def reconcile(self) -> None:
        """At start: give the router every color's instances and the stored split."""
        dep = self.current()
        backends = {c: (await self.runtime.status(c)).endpoints for c in Color}
        await self.router.prepare(backends)
        state = await self.router.observe()
        if dep.phase not in phases.IN_PROGRESS and state.weights != dep.weights:
            self._record("reconcile", "ok", f"router served {state.weights.as_dict()}; restored "
                                            f"{dep.weights.as_dict()} from the state store")
            await self._route_and_verify(dep.weights)

    # -- retention ---------------------------------------------------------------------------------------------
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
        self._record("scale_down", "ok", f"{color.value} to {count} instances: {reason}")
        return True

    async def warm(self, color: Color | None = None) -> Deployment:
        """Scale a cold color back up to full size so it can be switched to again."""
        dep = self.current()
        color = color or dep.idle
        version = dep.version_of(color)
        if version is None:
            raise NotReady(f"{color.value} never ran a release", hint="deploy one with `turnout deploy VERSION`")
        self._lock(f"warm {color.value}")
        try:
            endpoints = await self.runtime.start(Release(version), color)
            await self.router.prepare({color: endpoints})
            dep = self.store.save(replace(self.current(), warm={**dep.warm, color: True}))
            self._record("warm", "ok", f"{color.value} running {version} on {len(endpoints)} instances")
            return dep
        finally:
            self._unlock()
