"""The control API: one type per request and per result, shared by the CLI and the agent.

The CLI fills a request type and the agent decodes that same type (kamal-proxy's shared Args):
decoding is strict (unknown keys, wrong types and bad colors are refused with the field's path),
and it is the only place a usage error can come from. Long operations stream frames, one JSON
object per line: progress events, then one result or one error.

    GET  /v1/status            -> StatusView
    POST /v1/<command>         (a request type below) -> frames: {"event": ...}* then {"result": ...}
                                                          or {"error": OpError}
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec

from turnout.errors import BUG_EXIT, UsageError
from turnout.events import ProgressEvent
from turnout.model import VERSION_PATTERN, Color, Deployment, Measurement, Operation, OpState, Phase

T = TypeVar("T")


class Request(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    actor: str = ""  # who asks, for the audit log (OS user and git identity)


Version = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=VERSION_PATTERN)]
Percent = Annotated[int, msgspec.Meta(ge=1, le=100)]


class DeployArgs(Request, frozen=True, kw_only=True):
    version: Version
    switch: bool = True  # False: validate only, switch later
    pause: bool = False  # validate, then wait for promote or abort
    steps: tuple[Percent, ...] | None = None  # canary percentages, rising; None: deploy.steps from the config
    force: bool = False  # deploy a release that a trigger rolled back before


class PromoteArgs(Request, frozen=True, kw_only=True):
    steps: tuple[Percent, ...] | None = None


class AbortArgs(Request, frozen=True, kw_only=True):
    reason: str = ""


class SwitchArgs(Request, frozen=True, kw_only=True):
    to: Color | None = None  # None: the color the router does not serve
    reason: str = ""
    force: bool = False  # switch to a release that a trigger rolled back


class RollbackArgs(Request, frozen=True, kw_only=True):
    reason: str = ""
    force: bool = False


class ValidateArgs(Request, frozen=True, kw_only=True):
    pass


class WarmArgs(Request, frozen=True, kw_only=True):
    color: Color | None = None  # None: the idle color


class ScaleDownArgs(Request, frozen=True, kw_only=True):
    color: Color | None = None


class DownArgs(Request, frozen=True, kw_only=True):
    keep_serving: bool = False  # stop only the agent: router and instances go on, `up` adopts them


class ReloadArgs(Request, frozen=True, kw_only=True):
    pass


class ApproveArgs(Request, frozen=True, kw_only=True):
    reason: str = ""


COMMANDS: dict[str, type[Request]] = {
    "deploy": DeployArgs, "promote": PromoteArgs, "abort": AbortArgs, "switch": SwitchArgs,
    "rollback": RollbackArgs, "validate": ValidateArgs, "warm": WarmArgs, "scale-down": ScaleDownArgs,
    "down": DownArgs, "reload": ReloadArgs, "approve": ApproveArgs,
}


# -- results ------------------------------------------------------------------------------------------

class DeploymentView(msgspec.Struct, frozen=True, kw_only=True):
    """Where a deployment stands after an operation."""

    app: str
    phase: Phase
    active: Color
    versions: dict[Color, str | None]
    weights: dict[Color, int]

    @classmethod
    def of(cls, dep: Deployment) -> DeploymentView:
        return cls(app=dep.app, phase=dep.phase, active=dep.active, versions=dict(dep.versions),
                   weights={Color.BLUE: dep.weights.blue, Color.GREEN: dep.weights.green})

    @property
    def idle(self) -> Color:
        return self.active.other


class Measurements(msgspec.Struct, frozen=True, kw_only=True):
    measurements: tuple[Measurement, ...]


class Done(msgspec.Struct, frozen=True, kw_only=True):
    message: str


class Reloaded(msgspec.Struct, frozen=True, kw_only=True):
    """What `turnout reload` applied, and what it refused with why (those need an agent restart)."""

    applied: tuple[str, ...]
    refused: tuple[str, ...]


class AlertOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What posted alerts led to: rolled_back, ignored (nothing to roll back), refused, or none."""

    matched: int
    action: str
    message: str = ""
    restored_ms: float | None = None  # the alert's arrival to traffic restored
    active: Color | None = None


Result = DeploymentView | Measurements | Done | Reloaded
# what each command answers (the rest: a DeploymentView)
RESULTS: dict[str, type[Any]] = {"validate": Measurements, "down": Done, "reload": Reloaded, "approve": Done}


class OpError(msgspec.Struct, frozen=True, kw_only=True):
    """Why an operation failed: the error's class name, message, hint and exit code. `bug` marks
    anything that is not a turnout error (exit 70): the traceback is in the agent's log."""

    type: str
    message: str
    hint: str = ""
    exit_code: int = 1
    bug: bool = False

    @classmethod
    def bug_in_agent(cls, exc: BaseException, log: str) -> OpError:
        return cls(type=type(exc).__name__, message=f"internal error in the agent: {exc!r}",
                   hint=f"this is a bug in turnout; the traceback is in {log}", exit_code=BUG_EXIT, bug=True)


# -- the status view ----------------------------------------------------------------------------------

class EnvView(msgspec.Struct, frozen=True, kw_only=True):
    version: str | None  # what the state says runs there
    running_version: str | None  # what the runtime reports
    instances: int
    healthy: int
    warm: bool
    endpoints: tuple[str, ...] = ()


class RouterView(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    reachable: bool
    serving: dict[Color, int] | None = None  # read back from the router
    test: Color | None = None
    production_url: str = ""
    test_url: str = ""
    error: str = ""


class LockView(msgspec.Struct, frozen=True, kw_only=True):
    holder: str
    since: float
    purpose: str = ""


class AgentView(msgspec.Struct, frozen=True, kw_only=True):
    running: bool
    pid: int | None = None
    since: float | None = None
    stale_pid: bool = False  # a pid file is left, its process is gone
    config_changed: bool = False  # turnout.toml differs from what the agent loaded: `turnout reload`


class OperationView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    kind: str
    state: OpState
    step: str
    version: str | None = None
    target: Color | None = None
    deadline: float | None = None
    message: str = ""
    actor: str = ""
    updated_at: float = 0.0
    gate: str = ""  # step "gate": the gate it waits at
    steps: tuple[int, ...] = ()
    step_index: int = 0
    created_at: float = 0.0

    @classmethod
    def of(cls, op: Operation) -> OperationView:
        return cls(id=op.id, kind=op.kind, state=op.state, step=op.step, version=op.version, target=op.target,
                   deadline=op.deadline, message=op.message, actor=op.actor, updated_at=op.updated_at, gate=op.gate,
                   steps=op.steps, step_index=op.step_index, created_at=op.created_at)


class DriftView(msgspec.Struct, frozen=True, kw_only=True):
    """Something observed that differs from the desired state, since when, and what is done about it."""

    what: str
    detail: str
    since: float
    repair_error: str = ""  # why the last repair failed
    retry_at: float = 0.0  # when the next repair is tried (after a failed one)


class StatusView(msgspec.Struct, frozen=True, kw_only=True):
    app: str
    phase: Phase
    active: Color
    idle: Color
    revision: int
    environments: dict[Color, EnvView]
    router: RouterView
    stored_weights: dict[Color, int]
    drift: bool  # the router serves something else than the state says
    rollback_ready_until: float | None
    lock: LockView | None
    agent: AgentView
    operation: OperationView | None = None  # the operation running now
    drifts: tuple[DriftView, ...] = ()  # what the agent's reconcile loop sees differ, with its age
    bad: tuple[str, ...] = ()  # releases rolled back by a trigger: switching to them needs --force


# -- frames of an operation stream --------------------------------------------------------------------

class Frame(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    event: ProgressEvent | None = None
    result: Any = None
    error: OpError | None = None


def decode(kind: type[T], data: bytes) -> T:
    """`data` (JSON) as a `kind`; any mismatch is a usage error naming the field."""
    try:
        return msgspec.json.decode(data, type=kind)
    except msgspec.ValidationError as exc:
        raise UsageError(f"bad request: {exc}") from None
    except msgspec.DecodeError as exc:
        raise UsageError(f"bad request: not JSON: {exc}") from None


def encode(value: Any) -> bytes:
    return msgspec.json.encode(value)


def convert(kind: type[T], value: Any) -> T:
    """A decoded JSON value (a frame's result) as a `kind`."""
    return msgspec.convert(value, type=kind)
