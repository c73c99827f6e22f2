"""The orchestrator's journal: every state change, audit entry, notification and lock goes through here.

`advance` checks the phase table, saves (compare-and-swap) and appends the audit event, so state,
audit log and webhooks never drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from turnout.engine import phases
from turnout.errors import TurnoutError
from turnout.model import AuditEvent, Color, Deployment, Measurement, Phase
from turnout.notify import Notifier
from turnout.store.base import Store

log = logging.getLogger("turnout")
Progress = Callable[[str, dict[str, Any]], None]


def quiet(step: str, data: dict[str, Any]) -> None:
    log.info("%s %s", step, data)


class Journal:
    def __init__(self, store: Store, app: str, actor: str, *, progress: Progress = quiet,
                 notifier: Notifier | None = None, holder: str = "") -> None:
        self.store, self.app, self.actor = store, app, actor
        self.progress, self.notifier = progress, notifier
        self.holder = holder or actor

    def current(self) -> Deployment:
        return self.store.load(self.app)

    def advance(self, dep: Deployment, phase: Phase, *, action: str, outcome: str, reason: str = "",
                 measurements: Sequence[Measurement] = (), from_color: Color | None = None,
                 to_color: Color | None = None, **changes: Any) -> Deployment:
        phases.check(dep.phase, phase)
        saved = self.store.save(replace(dep, phase=phase, **changes))
        self.audit(saved, action, outcome, reason, [m.as_dict() for m in measurements], from_color=from_color,
                    to_color=to_color)
        return saved

    def record(self, action: str, outcome: str, reason: str = "", measurements: Sequence[dict[str, Any]] = ()
                ) -> None:
        """An audit event that changes no state (refusals, drift, measurements)."""
        self.audit(self.current(), action, outcome, reason, list(measurements))

    def audit(self, dep: Deployment, action: str, outcome: str, reason: str, measurements: list[dict[str, Any]],  # noqa: PLR0917
               from_color: Color | None = None, to_color: Color | None = None) -> None:
        event = self.store.append(AuditEvent(
            app=self.app, action=action, outcome=outcome, actor=self.actor, phase=dep.phase, from_color=from_color,
            to_color=to_color, reason=reason, versions={c.value: v for c, v in dep.versions.items()},
            measurements=measurements))
        payload = {"event": f"{action}:{outcome}", **event.as_dict(), "active": dep.active.value}
        self.progress(f"{action}:{outcome}", payload)
        if self.notifier:
            self.notifier.event(payload)

    def lock(self, purpose: str) -> None:
        self.store.acquire_lock(self.app, self.holder, purpose)

    def unlock(self) -> None:
        self.store.release_lock(self.app, self.holder)

    async def hook(self, name: str, dep: Deployment, reason: str = "") -> None:
        if not self.notifier:
            return
        env = {"TURNOUT_APP": self.app, "TURNOUT_HOOK": name, "TURNOUT_ACTIVE": dep.active.value,
               "TURNOUT_IDLE": dep.idle.value, "TURNOUT_VERSION": dep.version_of(dep.active) or "",
               "TURNOUT_IDLE_VERSION": dep.version_of(dep.idle) or "", "TURNOUT_PHASE": dep.phase.value,
               "TURNOUT_ACTOR": self.actor, "TURNOUT_REASON": reason}
        result = await self.notifier.hook(name, env)
        if result is None:
            return
        code, output = result
        self.record("hook", "ok" if code == 0 else "failed", f"{name} exited {code}: {output}")
        if code != 0 and name == "pre-deploy":
            raise TurnoutError(f"pre-deploy hook exited {code}: {output}", hint="nothing was started")
