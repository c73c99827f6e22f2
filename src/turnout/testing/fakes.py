"""In-memory drivers for tests of the engine: fast, deterministic, and breakable on purpose.

They keep the same promises the real drivers make (the contract suites run on them too), and let a
test make the world misbehave: a router that is down or drifts, instances that die, a release that
never gets ready, a check that answers from a script. Importable without pytest.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar, Self

import msgspec

from turnout.checks.base import Target
from turnout.config import DriverEnv, NoOptions, RouterConfig
from turnout.errors import LockHeld, RouterError, RuntimeFailure, StaleState, UsageError
from turnout.events import AuditEvent
from turnout.model import (
    ApiToken,
    Color,
    Deployment,
    Endpoint,
    EnvStatus,
    InstanceStatus,
    LockInfo,
    Measurement,
    Operation,
    Release,
    RouteState,
    TrafficPoint,
    Verdict,
    Weights,
)
from turnout.store.base import TRAFFIC_KEEP

_ports = itertools.count(20000)


class FakeRouter:
    """A router in memory: what it serves is what `route()` last set, unless a test says otherwise."""

    kind: ClassVar[str] = "fake"
    can_split: ClassVar[bool] = True
    Options = NoOptions

    @classmethod
    def from_options(cls, section: RouterConfig, options: NoOptions, env: DriverEnv) -> Self:
        return cls(section.production, section.test)

    def __init__(self, production: str = "127.0.0.1:1", test: str = "127.0.0.1:2") -> None:
        self.production_url, self.test_url = f"http://{production}", f"http://{test}"
        self.weights = Weights(100, 0)
        self.backends: dict[Color, tuple[Endpoint, ...]] = {c: () for c in Color}
        self.down = False  # every call raises RouterError, as a router that does not answer
        self.running = True  # an owned router: release() stops it, prepare() starts it again
        self.lag = 0  # observe() shows the old split this many more times after a route()
        self._pending: Weights | None = None
        self.calls: list[str] = []

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.down or not (self.running or call == "prepare"):
            raise RouterError(f"fake router is {'down' if self.down else 'stopped'} ({call})")

    async def prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        self._check("prepare")
        self.running = True
        self.backends.update({Color(c): tuple(eps) for c, eps in backends.items()})

    async def route(self, weights: Weights) -> None:
        self._check("route")
        if self.lag:
            self._pending = weights
        else:
            self.weights = weights

    async def observe(self) -> RouteState:
        self._check("observe")
        if self._pending is not None:
            if self.lag:
                self.lag -= 1
            else:
                self.weights, self._pending = self._pending, None
        return RouteState(weights=self.weights, test_color=self.weights.dominant.other, backends=dict(self.backends),
                          production_url=self.production_url, test_url=self.test_url)

    async def release(self) -> None:
        self.calls.append("release")
        self.running = False

    def drift(self, weights: Weights) -> None:
        """Someone changed the router by hand."""
        self.weights, self._pending = weights, None


@dataclass
class _FakeEnv:
    version: str
    instances: list[InstanceStatus] = field(default_factory=list)


class FakeRuntime:
    """Instances in memory. A release whose version contains `+broken` never gets ready."""

    kind: ClassVar[str] = "fake"

    def __init__(self, instances: int = 2) -> None:
        self.instances = instances
        self.envs: dict[Color, _FakeEnv] = {}
        self.calls: list[str] = []

    def _endpoints(self, color: Color) -> list[Endpoint]:
        env = self.envs.get(color)
        return [i.endpoint for i in env.instances] if env else []

    async def start(self, release: Release, color: Color, instances: int | None = None) -> list[Endpoint]:
        self.calls.append(f"start {color} {release.version}")
        self.envs.pop(color, None)
        if "+broken" in release.version:
            raise RuntimeFailure(f"{color} instance 0 ({release.version}) was not ready")
        count = self.instances if instances is None else instances
        self.envs[color] = _FakeEnv(release.version, [self._instance() for _ in range(count)])
        return self._endpoints(color)

    @staticmethod
    def _instance() -> InstanceStatus:
        port = next(_ports)
        return InstanceStatus(Endpoint("127.0.0.1", port), healthy=True, pid=port)

    async def stop(self, color: Color, drain: float | None = None) -> None:
        self.calls.append(f"stop {color}")
        self.envs.pop(color, None)

    async def scale(self, color: Color, count: int) -> list[Endpoint]:
        env = self.envs.get(color)
        if env is None:
            raise RuntimeFailure(f"nothing runs on {color}")
        env.instances = env.instances[:count] + [self._instance() for _ in range(count - len(env.instances))]
        return self._endpoints(color)

    async def status(self, color: Color) -> EnvStatus:
        env = self.envs.get(color)
        return EnvStatus(color, env.version, tuple(env.instances)) if env else EnvStatus(color, None)

    async def recover(self) -> None:
        """Everything in memory is already "adopted"."""

    async def close(self) -> None:
        """Instances keep "running"."""

    def kill(self, color: Color, index: int = 0) -> None:
        """An instance dies and is not restarted."""
        env = self.envs[color]
        env.instances[index] = replace(env.instances[index], healthy=False, pid=None)


class MemoryStore:
    """The Store contract in memory: compare-and-swap, an append-only audit list, a deploy lock."""

    def __init__(self) -> None:
        self.deployments: dict[str, Deployment] = {}
        self.audit: list[AuditEvent] = []
        self.points: list[tuple[str, TrafficPoint]] = []
        self.api_tokens: list[ApiToken] = []
        self.locks: dict[str, LockInfo] = {}
        self.ops: dict[str, Operation] = {}

    def load(self, app: str) -> Deployment:
        return self.deployments.get(app) or Deployment(app=app)

    def save(self, deployment: Deployment) -> Deployment:
        current = self.load(deployment.app).revision
        if current != deployment.revision:
            raise StaleState(f"{deployment.app}: state changed underneath (revision {current}, "
                             f"expected {deployment.revision})")
        saved = replace(deployment, revision=current + 1)
        self.deployments[deployment.app] = saved
        return saved

    def append(self, event: AuditEvent) -> AuditEvent:
        stored = msgspec.structs.replace(event, id=len(self.audit) + 1, at=event.at or time.time())
        self.audit.append(stored)
        return stored

    def history(self, app: str, limit: int = 100) -> list[AuditEvent]:
        return [e for e in self.audit if e.app == app][-limit:]

    def verify(self) -> list[str]:
        return []  # entries are Python objects nothing else can reach

    def save_operation(self, op: Operation) -> Operation:
        now = time.time()
        op = replace(op, created_at=op.created_at or now, updated_at=now)
        self.ops[op.id] = op
        return op

    def operations(self, app: str, limit: int = 20) -> list[Operation]:
        ops = sorted((o for o in self.ops.values() if o.app == app), key=lambda o: o.updated_at, reverse=True)
        return ops[:limit]

    def record_traffic(self, app: str, points: Sequence[TrafficPoint], keep: float = TRAFFIC_KEEP) -> None:
        horizon = time.time() - keep
        kept = [(a, p) for a, p in self.points if not (a == app and p.at < horizon)]
        self.points = kept + [(app, p) for p in points]

    def traffic(self, app: str, since: float, until: float | None = None) -> list[TrafficPoint]:
        end = until if until is not None else float("inf")
        return sorted((p for a, p in self.points if a == app and since <= p.at <= end), key=lambda p: (p.at, p.color))

    def save_token(self, token: ApiToken) -> None:
        if any(t.name == token.name for t in self.api_tokens):
            raise UsageError(f"a token named {token.name!r} exists already")
        self.api_tokens.append(token)

    def tokens(self) -> list[ApiToken]:
        return sorted(self.api_tokens, key=lambda t: t.name)

    def revoke_token(self, name: str) -> bool:
        before = len(self.api_tokens)
        self.api_tokens = [t for t in self.api_tokens if t.name != name]
        return len(self.api_tokens) < before

    def acquire_lock(self, app: str, holder: str, purpose: str = "") -> LockInfo:
        held = self.locks.get(app)
        if held is not None and held.holder != holder:
            raise LockHeld(f"{app}: deploy lock held by {held.holder} ({held.purpose or 'no purpose given'})")
        self.locks[app] = LockInfo(holder, time.time(), purpose)
        return self.locks[app]

    def release_lock(self, app: str, holder: str) -> None:
        if app in self.locks and self.locks[app].holder == holder:
            del self.locks[app]

    def lock_info(self, app: str) -> LockInfo | None:
        return self.locks.get(app)

    def close(self) -> None:
        """Nothing to close."""


class ScriptedCheck:
    """A check that answers from a script of verdicts (the last one repeats), counting its calls."""

    kind: ClassVar[str] = "scripted"

    def __init__(self, name: str, verdicts: Iterable[Verdict | str], timeout: float = 5.0) -> None:
        self.name, self.timeout = name, timeout
        self.script = [Verdict(v) for v in verdicts] or [Verdict.PASS]
        self.targets: list[Target] = []

    async def measure(self, target: Target) -> Measurement:
        verdict = self.script[min(len(self.targets), len(self.script) - 1)]
        self.targets.append(target)
        return Measurement(self.name, verdict, len(self.targets), f"scripted {verdict.value} #{len(self.targets)}")
