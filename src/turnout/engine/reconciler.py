"""The reconcile loop: desired state (the store) against what is real (the router's read-back and the
runtime's status), and the repairs that bring them together, like a Kubernetes controller.

Each tick: a color that should run a release (the live one, and the old one while it is warm) and runs
nothing, or another version, or nothing healthy for a while, is started again and given to the router;
a router that cannot be read is prepared again (an owned router process is restarted); a router that
serves another split than the state says, or lacks a color's instances, is put back. What an operation
in flight is moving (its target color, the split during a switch) is left to the operation. Every
repair is in the audit log; what is seen but not (yet) repaired is reported as drift with its age,
and drift that comes back soon after its repair says so: a GitOps tool re-applying a manifest that
sets what turnout switches undoes every repair, and only the manifest can be fixed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from turnout.engine import phases
from turnout.engine.orchestrator import ROUTER_REVIVED, Orchestrator
from turnout.errors import TurnoutError
from turnout.model import Color, Deployment, EnvStatus, Release, RouteState

log = logging.getLogger("turnout.reconcile")
UNHEALTHY_GRACE = 3.0  # an instance may take this long to come back (the runtime's own restart) before we act
BACKOFF = (2.0, 60.0)  # a repair that failed is tried again after this, doubling up to the cap
URGENT_CAP = 8.0  # ...but production waits on an urgent one (a dead router): never longer than this
RECUR = 600.0  # a drift seen again this soon after its repair "came back": something keeps re-applying it


@dataclass(frozen=True)
class Drift:
    what: str
    detail: str
    since: float
    retry_at: float = 0.0
    failures: int = 0
    returns: int = 0  # how often it came back soon after being repaired
    error: str = ""  # why the last repair failed


class Reconciler:
    def __init__(self, orch: Orchestrator, busy: Callable[[], bool], *, grace: float = UNHEALTHY_GRACE) -> None:
        self.orch = orch
        self.busy = busy  # an operation is moving traffic or instances right now: leave those to it
        self.grace = grace
        self.drifts: dict[str, Drift] = {}
        self.repaired: dict[str, tuple[float, int]] = {}  # what -> (when last repaired, its returns by then)

    def seen(self, what: str, detail: str) -> Drift:
        now = time.time()
        old = self.drifts.get(what)
        last, returns = self.repaired.get(what, (0.0, -1))
        returns = old.returns if old else (returns + 1 if now - last < RECUR else 0)
        if returns:  # a GitOps tool re-applying its manifest undoes every repair: say so, the fix is there
            detail = f"{detail} ({came_back(returns)})"
        drift = replace(old, detail=detail) if old else Drift(what, detail, now, returns=returns)
        self.drifts[what] = drift
        return drift

    def cleared(self, what: str) -> None:
        self.drifts.pop(what, None)

    async def tick(self) -> None:
        """One pass: observe, compare, repair. Never raises for a repair that fails: it says so and retries."""
        dep = self.orch.current()
        if dep.version_of(dep.active) is None:
            return  # nothing deployed yet
        in_flight = self.busy() or dep.target is not None or dep.phase in phases.IN_PROGRESS
        statuses = {c: await self.orch.runtime.status(c) for c in Color}
        for color in Color:
            if not (in_flight and color is dep.target):
                await self._instances(dep, color, statuses[color])
        try:
            state = await self.orch.router.observe()
        except TurnoutError as exc:
            await self._repair("router", f"cannot be read: {exc}", self._prepare, urgent=True)
            if "router" in self.drifts:  # not repaired (yet)
                return
            try:  # started again, maybe with none of its routes (a damaged state file): set them in this pass,
                state = await self.orch.router.observe()  # not a tick later while it serves its default color
            except TurnoutError:
                return
        self.cleared("router")
        await self._backends(dep, state, statuses, in_flight)
        if not in_flight:
            await self._weights(dep, state)
            await self.orch.retire_if_due()

    # -- instances --------------------------------------------------------------------------------------
    def desired(self, dep: Deployment, color: Color) -> str | None:
        """The release `color` must run now (the live color, and the old one while warm), else None."""
        version = dep.version_of(color)
        return version if version is not None and (color is dep.active or dep.warm.get(color)) else None

    async def _instances(self, dep: Deployment, color: Color, status: EnvStatus) -> None:
        version, what = self.desired(dep, color), f"{color.value} instances"
        if version is None:
            self.cleared(what)
            return
        if not status.instances:
            problem, urgent = f"runs nothing, should run {version}", True
        elif status.version != version:
            problem, urgent = f"runs {status.version}, should run {version}", True
        elif status.healthy == 0:
            problem, urgent = f"no instance of {version} answers", False
        else:
            self.cleared(what)
            return

        async def restart() -> str:
            endpoints = await self.orch.runtime.start(Release(version), color)
            await self.orch.router.prepare({color: endpoints})
            return f"{color.value} {problem}: started {version} on {len(endpoints)} instances"

        await self._repair(what, problem, restart, urgent=urgent)

    # -- the router -------------------------------------------------------------------------------------
    async def _prepare(self) -> str:
        state = await self.orch.prepare_router()
        return f"{ROUTER_REVIVED}; it serves {state.weights.as_dict()}"

    async def _backends(self, dep: Deployment, state: RouteState, statuses: dict[Color, EnvStatus],
                        in_flight: bool) -> None:
        if getattr(self.orch.router, "selects_instances", False):
            return  # it finds the instances itself (Kubernetes Services select pods by label)
        given = state.backends if state.targets is None else state.targets  # an ALB's: registered, maybe not healthy
        wrong = {c: statuses[c].endpoints for c in Color
                 if self.desired(dep, c) and not (in_flight and c is dep.target)
                 and set(given.get(c, ())) != set(statuses[c].endpoints) and statuses[c].endpoints}
        if not wrong:
            self.cleared("router backends")
            return

        async def give() -> str:
            await self.orch.router.prepare(wrong)
            return f"router given the instances of {', '.join(c.value for c in wrong)} again"

        await self._repair("router backends", f"the router lacks instances of {', '.join(c.value for c in wrong)}",
                           give, urgent=True)

    async def _weights(self, dep: Deployment, state: RouteState) -> None:
        if state.weights == dep.weights and state.test_color is dep.weights.dominant.other:
            self.cleared("router split")
            return
        detail = f"the router serves {state.weights.as_dict()} (test: {state.test_color.value}); the state says " \
                 f"{dep.weights.as_dict()}"

        async def route() -> str:
            await self.orch.route_and_verify(dep.weights)
            return f"{detail}; put back"

        await self._repair("router split", detail, route, urgent=True)

    # -- repairs ------------------------------------------------------------------------------------------
    async def _repair(self, what: str, detail: str, action: Callable[[], Awaitable[str]], *, urgent: bool) -> None:
        drift = self.seen(what, detail)
        now = time.time()
        if now < drift.retry_at or (not urgent and now - drift.since < self.grace):
            return
        age = now - drift.since
        try:
            done = await action()
        except TurnoutError as exc:
            delay = min(BACKOFF[0] * 2 ** drift.failures, URGENT_CAP if urgent else BACKOFF[1])
            self.drifts[what] = replace(drift, retry_at=now + delay, failures=drift.failures + 1,
                                        error=one_line(exc))
            self.orch.journal.record("reconcile", "failed", f"{what}: {detail}; repair failed ({exc}); "
                                                            f"next try in {delay:.0f}s")
            log.warning("reconcile %s failed: %s", what, exc)
            return
        self.cleared(what)
        self.repaired[what] = (time.time(), drift.returns)
        note = f"; {came_back(drift.returns)}" if drift.returns else ""
        self.orch.journal.record("reconcile", "repaired", f"{done} (drift seen {age:.1f}s){note}")


def came_back(times: int) -> str:
    return (f"back {times} time{'s' if times > 1 else ''} within {RECUR / 60:.0f} min of a repair: something "
            "re-applies it, e.g. a GitOps sync of a manifest that sets it (docs/kubernetes.md)")


def one_line(exc: Exception) -> str:
    """An error for a status line: its first line and, for one that ends with a log tail, the tail's last line
    ("proxy exited while starting: ... cannot bind 127.0.0.1:8080: Address already in use")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
