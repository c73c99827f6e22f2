"""The small async protocols every driver implements. Calls are idempotent and read back.

Router   points production traffic and the test endpoint at colors.
Runtime  runs a release's instances for a color.
Check    takes one measurement against a target; judging it is analysis' job.
Store    current deployment (compare-and-swap), append-only audit log, deploy lock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from turnout.model import (
    AuditEvent,
    Color,
    Deployment,
    Endpoint,
    EnvStatus,
    LockInfo,
    Measurement,
    Release,
    RouteState,
    Weights,
)


@runtime_checkable
class Router(Protocol):
    kind: str
    can_split: bool  # whether route() accepts weights other than 0/100

    async def prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        """Make the router know each color's instances (creates its config/process if it owns one)."""

    async def route(self, weights: Weights) -> None:
        """Ask for a traffic split; the test endpoint serves the color with less weight."""

    async def observe(self) -> RouteState:
        """Read back what the router really serves."""

    async def release(self) -> None:
        """Stop what prepare() started (owned router processes); leave attached routers running."""


@runtime_checkable
class Runtime(Protocol):
    kind: str

    async def start(self, release: Release, color: Color, instances: int | None = None) -> list[Endpoint]:
        """Start the release on `color` (replacing what ran there); return endpoints once ready."""

    async def stop(self, color: Color, drain: float | None = None) -> None:
        """Stop every instance of `color`: SIGTERM, wait `drain` seconds, then SIGKILL."""

    async def scale(self, color: Color, count: int) -> list[Endpoint]:
        """Run exactly `count` instances of the color's current release."""

    async def status(self, color: Color) -> EnvStatus:
        """What runs on `color` and whether each instance answers its readiness probe."""

    async def recover(self) -> None:
        """Adopt instances a previous host process left running, or forget dead ones."""

    async def close(self) -> None:
        """Stop supervising; instances keep running unless stopped explicitly."""


@dataclass(frozen=True)
class Target:
    """What a check measures: the test endpoint of the idle color, plus the live one for comparison."""

    url: str  # test endpoint (or the color's own URL after the switch)
    color: Color
    release: Release
    baseline_url: str = ""  # production endpoint, for comparisons against the live color
    endpoints: tuple[Endpoint, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Check(Protocol):
    name: str

    async def measure(self, target: Target) -> Measurement: ...


@runtime_checkable
class Store(Protocol):
    def load(self, app: str) -> Deployment: ...

    def save(self, deployment: Deployment) -> Deployment:
        """Write if the stored revision equals deployment.revision; return it with revision + 1."""

    def append(self, event: AuditEvent) -> AuditEvent: ...

    def history(self, app: str, limit: int = 100) -> list[AuditEvent]: ...

    def acquire_lock(self, app: str, holder: str, purpose: str = "") -> LockInfo: ...

    def release_lock(self, app: str, holder: str) -> None: ...

    def lock_info(self, app: str) -> LockInfo | None: ...

    def close(self) -> None: ...
