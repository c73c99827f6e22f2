"""Plain values shared by every layer: colors, phases, releases, endpoints, route state, audit events."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Color(enum.StrEnum):
    BLUE = "blue"
    GREEN = "green"

    @property
    def other(self) -> Color:
        return Color.GREEN if self is Color.BLUE else Color.BLUE


class Phase(enum.StrEnum):
    """The seed's environment lifecycle plus the two ways a deploy can end early."""

    INITIAL = "initial"  # one color live, nothing in progress
    DEPLOY = "deploy"  # starting the release on the idle color
    VALIDATE = "validate"  # checks against the test endpoint
    SWITCH = "switch"  # router is being pointed at the new color
    STABILIZE = "stabilize"  # new color live, old color warm for rollback
    ABORTED = "aborted"  # deploy stopped before the switch; old color still live
    ROLLED_BACK = "rolled_back"  # switched back to the previous color


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    ERROR = "error"


@dataclass(frozen=True)
class Release:
    version: str


@dataclass(frozen=True)
class Endpoint:
    """One reachable instance of a release: host and port on which it serves HTTP."""

    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        host, _, port = text.rpartition(":")
        return cls(host or "127.0.0.1", int(port))


@dataclass(frozen=True)
class Weights:
    """Share of production traffic per color, in percent; always sums to 100."""

    blue: int
    green: int

    def __post_init__(self) -> None:
        if self.blue < 0 or self.green < 0 or self.blue + self.green != 100:
            raise ValueError(f"weights must be non-negative and sum to 100, got {self.blue}/{self.green}")

    @classmethod
    def all_to(cls, color: Color) -> Weights:
        return cls(100, 0) if color is Color.BLUE else cls(0, 100)

    @classmethod
    def split(cls, color: Color, percent: int) -> Weights:
        """`percent` of traffic to `color`, the rest to the other one."""
        return cls(percent, 100 - percent) if color is Color.BLUE else cls(100 - percent, percent)

    def of(self, color: Color) -> int:
        return self.blue if color is Color.BLUE else self.green

    @property
    def dominant(self) -> Color:
        return Color.GREEN if self.green > self.blue else Color.BLUE

    def as_dict(self) -> dict[str, int]:
        return {"blue": self.blue, "green": self.green}


@dataclass(frozen=True)
class RouteState:
    """What a router really serves, read back from it (never what we asked it to do)."""

    weights: Weights
    test_color: Color  # the color the test endpoint serves: always the idle one
    backends: dict[Color, tuple[Endpoint, ...]] = field(default_factory=dict)
    production_url: str = ""
    test_url: str = ""


@dataclass(frozen=True)
class InstanceStatus:
    endpoint: Endpoint
    healthy: bool
    pid: int | None = None
    restarts: int = 0


@dataclass(frozen=True)
class EnvStatus:
    color: Color
    version: str | None
    instances: tuple[InstanceStatus, ...] = ()

    @property
    def healthy(self) -> int:
        return sum(1 for i in self.instances if i.healthy)

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(i.endpoint for i in self.instances)


@dataclass(frozen=True)
class Measurement:
    """One check's result: verdict, the measured value, and what a human needs to judge it."""

    check: str
    verdict: Verdict
    value: float | str | None = None
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "verdict": self.verdict.value, "value": self.value,
                "detail": self.detail, **({"data": self.data} if self.data else {})}


@dataclass(frozen=True)
class Deployment:
    """The current state of one app, as stored. `revision` guards compare-and-swap updates."""

    app: str
    active: Color = Color.BLUE
    phase: Phase = Phase.INITIAL
    versions: dict[Color, str | None] = field(default_factory=lambda: {Color.BLUE: None, Color.GREEN: None})
    weights: Weights = field(default_factory=lambda: Weights(100, 0))
    target: Color | None = None  # the color a deploy in progress is putting a release on
    switched_at: float | None = None  # when the active color last changed (retention starts here)
    warm: dict[Color, bool] = field(default_factory=lambda: {Color.BLUE: False, Color.GREEN: False})
    revision: int = 0

    @property
    def idle(self) -> Color:
        return self.active.other

    def version_of(self, color: Color) -> str | None:
        return self.versions.get(color)


@dataclass(frozen=True)
class AuditEvent:
    app: str
    action: str  # deploy, switch, rollback, abort, scale_down, phase, ...
    outcome: str  # started, ok, failed, refused
    actor: str = ""
    at: float = 0.0
    from_color: Color | None = None
    to_color: Color | None = None
    versions: dict[str, str | None] = field(default_factory=dict)
    phase: Phase | None = None
    reason: str = ""
    measurements: list[dict[str, Any]] = field(default_factory=list)
    id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "at": self.at, "app": self.app, "actor": self.actor, "action": self.action,
            "outcome": self.outcome, "from": self.from_color.value if self.from_color else None,
            "to": self.to_color.value if self.to_color else None, "versions": self.versions,
            "phase": self.phase.value if self.phase else None, "reason": self.reason,
            "measurements": self.measurements,
        }


@dataclass(frozen=True)
class LockInfo:
    holder: str
    since: float
    purpose: str = ""
