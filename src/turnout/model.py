"""Plain values shared by every layer: colors, phases, releases, endpoints, route state, audit events."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field, replace
from typing import Any

# A release name: it becomes a process argument, an image tag, a label value; so a safe, short alphabet.
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$"
RELEASE_NAME_RULE = "letters, digits and . _ + - (up to 128), starting with a letter or digit"


def is_release_name(text: str) -> bool:
    return re.fullmatch(VERSION_PATTERN, text) is not None


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
    backends: dict[Color, tuple[Endpoint, ...]] = field(default_factory=dict)  # the instances that serve
    production_url: str = ""
    test_url: str = ""
    # What the router was given per color, where that differs from what serves (an ALB's registered
    # targets, healthy or not yet); None: the same as backends. The reconciler keeps it in step.
    targets: dict[Color, tuple[Endpoint, ...]] | None = None


@dataclass(frozen=True)
class ColorTraffic:
    """A color's production requests as its router counted them: cumulative counters, or the
    difference of two readings (a window)."""

    requests: int = 0  # answered requests
    errors: int = 0  # of which 5xx, also the ones the router answered itself (no instance reachable)
    buckets: tuple[int, ...] = ()  # latencies per bound of the reading's `bounds` (+Inf last); () = not known

    def minus(self, before: ColorTraffic) -> ColorTraffic:
        """The window between two readings; a counter that went down was reset (a restarted router),
        so its new value is the window, as Prometheus' rate() assumes."""
        if self.requests < before.requests or self.errors < before.errors:
            return self
        if len(self.buckets) == len(before.buckets) and all(a >= b for a, b in zip(self.buckets, before.buckets,
                                                                                    strict=True)):
            buckets = tuple(a - b for a, b in zip(self.buckets, before.buckets, strict=True))
        else:
            buckets = self.buckets if sum(self.buckets) <= self.requests - before.requests else ()
        return ColorTraffic(self.requests - before.requests, self.errors - before.errors, buckets)


@dataclass(frozen=True)
class Traffic:
    """One reading of a router's live production traffic per color (`TrafficSource.traffic()`)."""

    at: float  # time.monotonic() of the reading
    bounds: tuple[float, ...]  # upper bounds of the latency buckets, seconds (an implicit +Inf follows)
    colors: dict[Color, ColorTraffic] = field(default_factory=dict)

    def of(self, color: Color) -> ColorTraffic:
        return self.colors.get(color, ColorTraffic())

    def since(self, before: Traffic) -> dict[Color, ColorTraffic]:
        return {c: self.of(c).minus(before.of(c)) for c in Color}


@dataclass(frozen=True)
class TrafficPoint:
    """One interval (about a second) of a color's production traffic as the agent recorded it:
    what the dashboard draws and a deploy report plots."""

    at: float  # time.time() at the end of the interval
    color: Color
    seconds: float  # the interval's length
    requests: int
    errors: int
    p99: float | None  # seconds; None without requests or without a latency histogram
    weight: int  # percent of production traffic the router served to the color at the end


@dataclass(frozen=True)
class ApiToken:
    """A bearer token of the HTTP API, as stored: only its SHA-256 digest, never the token."""

    name: str
    role: str  # viewer (reads) or operator (reads and acts)
    digest: str
    created_at: float = 0.0
    created_by: str = ""


@dataclass(frozen=True)
class InstanceStatus:
    endpoint: Endpoint
    healthy: bool
    pid: int | None = None
    restarts: int = 0


@dataclass(frozen=True)
class LogLine:
    """One line an instance printed; `instance` names it the way its runtime does."""

    instance: str
    text: str


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
    retained_at: float | None = None  # when the idle color's retention window (re)started: switch or warm-up
    bad: frozenset[str] = frozenset()  # releases a trigger rolled back: switching to them needs --force
    revision: int = 0

    @property
    def idle(self) -> Color:
        return self.active.other

    def version_of(self, color: Color) -> str | None:
        return self.versions.get(color)

    # -- named transitions: the only way state changes (the journal saves what they return) --------
    def starting(self, color: Color, version: str) -> Deployment:
        """A deploy puts `version` on `color`; it is not warm until its instances are ready."""
        return replace(self, target=color, versions={**self.versions, color: version},
                       warm={**self.warm, color: False})

    def ready(self, color: Color) -> Deployment:
        """`color`'s instances run and answer: it can be validated, switched to, rolled back to."""
        return replace(self, warm={**self.warm, color: True})

    def validated(self) -> Deployment:
        """The deploy's checks passed; nothing is in flight any more."""
        return replace(self, target=None)

    def dropped(self, color: Color) -> Deployment:
        """A deploy to `color` was stopped before the switch: it runs nothing."""
        return replace(self, target=None, versions={**self.versions, color: None}, warm={**self.warm, color: False})

    def switching(self, color: Color) -> Deployment:
        """Traffic is being moved to `color` (after a crash, resume finishes or undoes it)."""
        return replace(self, target=color)

    def shifted(self, weights: Weights) -> Deployment:
        """A canary step: the router serves this split."""
        return replace(self, weights=weights)

    def switched(self, to: Color, at: float) -> Deployment:
        """All traffic on `to` since `at`; the other color's retention window starts now."""
        return replace(self, active=to, weights=Weights.all_to(to), target=None, switched_at=at, retained_at=at)

    def kept(self, color: Color | None = None) -> Deployment:
        """The switch did not happen: all traffic stays on the active color (or `color`)."""
        return replace(self, target=None, weights=Weights.all_to(color or self.active))

    def retired(self, color: Color) -> Deployment:
        """`color` was scaled down: it is no rollback target any more."""
        return replace(self, warm={**self.warm, color: False})

    def warmed(self, color: Color, at: float) -> Deployment:
        """`color` runs at full size again; as the idle color, a new retention window starts `at`."""
        return replace(self, warm={**self.warm, color: True},
                       retained_at=at if color is self.idle else self.retained_at)

    def marked_bad(self, version: str | None) -> Deployment:
        """A trigger rolled `version` back: it stays refused as a switch target unless forced."""
        return replace(self, bad=self.bad | {version}) if version else self

    def cleared(self, version: str) -> Deployment:
        """`version` deployed again on purpose (--force): it is no longer remembered as bad."""
        return replace(self, bad=self.bad - {version})

    def bootstrapped(self, version: str, at: float) -> Deployment:
        """The first release, live on blue."""
        return replace(self, active=Color.BLUE, versions={Color.BLUE: version, Color.GREEN: None},
                       weights=Weights.all_to(Color.BLUE), warm={Color.BLUE: True, Color.GREEN: False},
                       switched_at=at, retained_at=at, target=None)

    # -- the retention rule -----------------------------------------------------------------------
    def retire_at(self, retention: float) -> float | None:
        """When the old (idle) color stops being a rollback target: `retention` after the switch or
        after its last warm-up, whichever came later; None if it is not warm."""
        start = self.retained_at or self.switched_at
        if start is None or not self.warm.get(self.idle) or self.versions.get(self.idle) is None:
            return None
        return start + retention

    def rollback_open(self, now: float, retention: float) -> bool:
        """Whether the old color can still be rolled back to (warm and inside its retention window)."""
        until = self.retire_at(retention)
        return until is not None and now < until


@dataclass(frozen=True)
class LockInfo:
    holder: str
    since: float
    purpose: str = ""


class OpState(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"  # stopped before the switch (by a command, a failed check, or a restart)
    ROLLED_BACK = "rolled_back"  # went live, then traffic went back (a trigger, or a command)


@dataclass(frozen=True)
class Operation:
    """A long operation the agent owns (a deploy, a promotion): stored with its step, deadline and
    baseline, so an agent that restarts resumes it instead of forgetting it."""

    id: str
    app: str
    kind: str  # deploy, promote
    actor: str = ""
    state: OpState = OpState.RUNNING
    step: str = "queued"  # starting, validating, canary, switching, watching, done
    version: str | None = None
    target: Color | None = None
    steps: tuple[int, ...] = ()  # canary percentages before 100
    step_index: int = 0  # the canary step in progress
    deadline: float | None = None  # when the current watch (canary step or stabilize) ends
    baseline: dict[str, Any] | None = None  # the live color's behaviour before the switch
    gate: str = ""  # the gate it waits at (step "gate"): its point and kind
    message: str = ""
    exit_code: int = 0
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def done(self) -> bool:
        return self.state is not OpState.RUNNING


def canary_steps(steps: list[int]) -> list[int]:
    """Canary percentages rise strictly, each from 1 to 100 (100 is the switch itself)."""
    if any(not 0 < p <= 100 for p in steps) or steps != sorted(set(steps)):
        raise ValueError(f"canary steps must rise from 1 to 100 percent, got {steps}")
    return steps
