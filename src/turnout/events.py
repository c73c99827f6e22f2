"""Typed progress events and audit evidence: what the engine tells the CLI, the audit log and webhooks.

Evidence is tagged by kind (a check's measurement, a switch's timing, the trigger that fired, a
rollback's timing); readers look it up by type with `AuditEvent.find`, never by position.
Progress events are a small tagged union streamed to whoever follows an operation. All of them are
msgspec Structs: one encoding on both ends of the wire, decoded strictly, cheap to import.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from turnout.model import Color, Measurement, Phase

E = TypeVar("E")


class _Tagged(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    pass


# -- evidence in the audit log ---------------------------------------------------------------------

class Checked(_Tagged, frozen=True, kw_only=True, tag="measurement"):
    """A check's (or a trigger's) measurement."""

    measurement: Measurement


class SwitchTiming(_Tagged, frozen=True, kw_only=True, tag="switch_timing"):
    """How long a switch took: route() to the router serving it, and when route() returned."""

    ms: float
    routed_at: float  # wall clock: the moment the switch command returned


class TriggerFired(_Tagged, frozen=True, kw_only=True, tag="trigger"):
    """The post-switch watch (or a canary step) fired: which trigger, why, and each trigger's last judgement."""

    trigger: str
    reason: str
    detected_at: float | None = None
    first_failure_at: float | None = None  # earliest failing probe in the trigger's lookback
    ticks: int = 0
    probes: dict[str, int] = {}
    judgements: tuple[Measurement, ...] = ()


class RollbackTiming(_Tagged, frozen=True, kw_only=True, tag="rollback_timing"):
    """An automatic rollback, from the first failure it saw to traffic restored."""

    trigger: str
    first_failure_at: float
    detected_at: float | None
    restored_at: float
    detect_to_restore_ms: float


class AlertReceived(_Tagged, frozen=True, kw_only=True, tag="alert"):
    """An alert posted to the agent (Alertmanager or generic JSON), and what it led to."""

    name: str
    status: str  # firing or resolved
    labels: dict[str, str] = {}
    summary: str = ""
    source: str = ""  # alertmanager, generic
    received_at: float = 0.0
    restored_ms: float | None = None  # arrival to traffic restored, when it rolled back


Evidence = Checked | SwitchTiming | TriggerFired | RollbackTiming | AlertReceived


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of the append-only audit log."""

    app: str
    action: str  # deploy, switch, rollback, abort, scale_down, ...
    outcome: str  # started, ok, failed, refused, ...
    actor: str = ""
    at: float = 0.0
    from_color: Color | None = msgspec.field(default=None, name="from")
    to_color: Color | None = msgspec.field(default=None, name="to")
    versions: dict[str, str | None] = {}
    phase: Phase | None = None
    reason: str = ""
    evidence: tuple[Evidence, ...] = ()
    id: int | None = None

    def find(self, kind: type[E]) -> E | None:
        """The first piece of evidence of this type, if any."""
        return next((e for e in self.evidence if isinstance(e, kind)), None)

    def measurements(self) -> list[Measurement]:
        return [e.measurement for e in self.evidence if isinstance(e, Checked)]

    @property
    def name(self) -> str:
        return f"{self.action}:{self.outcome}"


def checked(measurements: Any) -> tuple[Checked, ...]:
    """Measurements as evidence."""
    return tuple(Checked(measurement=m) for m in measurements)


# -- progress of an operation ------------------------------------------------------------------------

class _Progress(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    pass


class Starting(_Progress, frozen=True, kw_only=True, tag="start"):
    color: Color
    version: str


class Measured(_Progress, frozen=True, kw_only=True, tag="measured"):
    measurement: Measurement


class Watching(_Progress, frozen=True, kw_only=True, tag="watch"):
    color: Color
    window: float
    url: str


class Noop(_Progress, frozen=True, kw_only=True, tag="noop"):
    reason: str


class Aborting(_Progress, frozen=True, kw_only=True, tag="abort"):
    color: Color
    reason: str


class Accepted(_Progress, frozen=True, kw_only=True, tag="accepted"):
    """The agent took the operation on: it goes on even if whoever asked goes away."""

    operation: str
    kind: str


class Notice(_Progress, frozen=True, kw_only=True, tag="notice"):
    """Something the operator should know that is not a step (the config changed, a repair...)."""

    text: str


class Recorded(_Progress, frozen=True, kw_only=True, tag="audit"):
    """An audit entry was written; `active` is the live color after it."""

    event: AuditEvent
    active: Color


ProgressEvent = Accepted | Notice | Starting | Measured | Watching | Noop | Aborting | Recorded


def encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


def to_builtins(value: Any) -> Any:
    """JSON-ready Python values (dicts, lists, strings, numbers) of any event or evidence."""
    return msgspec.to_builtins(value)
