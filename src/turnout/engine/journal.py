"""The only writer of state: every state change, audit entry, notification and lock goes through here.

`advance` checks the phase table, saves (compare-and-swap) and appends the audit event; `update`
does the same for changes within a phase (a canary step's weights, a warm-up, a scale-down).
State, audit log and webhooks never drift apart, and nothing else calls `store.save`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from turnout.engine import phases
from turnout.errors import TurnoutError
from turnout.events import AuditEvent, Evidence, ProgressEvent, Recorded, to_builtins
from turnout.infra import failpoints
from turnout.model import Color, Deployment, Phase
from turnout.notify import Notifier
from turnout.store.base import Store

log = logging.getLogger("turnout")
Progress = Callable[[ProgressEvent], None]


def quiet(event: ProgressEvent) -> None:
    log.info("%s", event)


class Journal:
    def __init__(self, store: Store, app: str, actor: str, *, progress: Progress = quiet,
                 notifier: Notifier | None = None, holder: str = "") -> None:
        self.store, self.app, self.actor = store, app, actor
        self.progress, self.notifier = progress, notifier
        self.holder = holder or actor

    def current(self) -> Deployment:
        return self.store.load(self.app)

    def advance(self, dep: Deployment, phase: Phase, *, action: str, outcome: str, reason: str = "",
                evidence: Sequence[Evidence] = (), from_color: Color | None = None,
                to_color: Color | None = None) -> Deployment:
        """Move to `phase` with the state `dep` (a transition of the stored deployment), and audit it."""
        phases.check(dep.phase, phase)
        return self.update(dep, phase=phase, action=action, outcome=outcome, reason=reason, evidence=evidence,
                           from_color=from_color, to_color=to_color)

    def update(self, dep: Deployment, *, action: str, outcome: str, reason: str = "",
               evidence: Sequence[Evidence] = (), from_color: Color | None = None, to_color: Color | None = None,
               phase: Phase | None = None) -> Deployment:
        """Save `dep` (compare-and-swap on its revision) and audit why."""
        saved = self.store.save(dep if phase is None else replace(dep, phase=phase))
        self.audit(saved, action, outcome, reason, evidence, from_color=from_color, to_color=to_color)
        return saved

    def record(self, action: str, outcome: str, reason: str = "", evidence: Sequence[Evidence] = ()) -> None:
        """An audit event that changes no state (refusals, drift, measurements)."""
        self.audit(self.current(), action, outcome, reason, evidence)

    def audit(self, dep: Deployment, action: str, outcome: str, reason: str, evidence: Sequence[Evidence] = (),
              *, from_color: Color | None = None, to_color: Color | None = None) -> AuditEvent:
        event = self.store.append(AuditEvent(
            app=self.app, action=action, outcome=outcome, actor=self.actor, phase=dep.phase, from_color=from_color,
            to_color=to_color, reason=reason, versions={c.value: v for c, v in dep.versions.items()},
            evidence=tuple(evidence)))
        self.progress(Recorded(event=event, active=dep.active))
        if self.notifier:
            self.notifier.event({"event": event.name, **to_builtins(event), "active": dep.active.value})
        failpoints.hit(event.name)
        return event

    def lock(self, purpose: str) -> None:
        self.store.acquire_lock(self.app, self.holder, purpose)

    def unlock(self) -> None:
        self.store.release_lock(self.app, self.holder)

    async def hook(self, name: str, dep: Deployment, reason: str = "", *, version: str | None = None) -> None:
        """Run the `name` hook; `version` is the release the step is about (default: the live one)."""
        if not self.notifier:
            return
        env = {"TURNOUT_APP": self.app, "TURNOUT_HOOK": name, "TURNOUT_ACTIVE": dep.active.value,
               "TURNOUT_IDLE": dep.idle.value, "TURNOUT_VERSION": version or dep.version_of(dep.active) or "",
               "TURNOUT_LIVE_VERSION": dep.version_of(dep.active) or "",
               "TURNOUT_IDLE_VERSION": dep.version_of(dep.idle) or "", "TURNOUT_PHASE": dep.phase.value,
               "TURNOUT_ACTOR": self.actor, "TURNOUT_REASON": reason}
        result = await self.notifier.hook(name, env)
        if result is None:
            return
        code, output = result
        self.record("hook", "ok" if code == 0 else "failed", f"{name} exited {code}: {output}")
        if code != 0 and name == "pre-deploy":
            raise TurnoutError(f"pre-deploy hook exited {code}: {output}", hint="nothing was started")

