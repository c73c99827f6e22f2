"""The schema of turnout.toml: every section and every rule a value must follow, in one pass.

Drivers' own `options` tables are validated by the driver's Options model when the stack is built
(`turnout check-config` builds it without starting anything); everything else is checked here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from turnout.config import templates
from turnout.errors import ConfigError, Key
from turnout.locations import DEFAULT_FILE, DEFAULT_STATE, state_dir
from turnout.model import canary_steps

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
LISTENING_ROUTERS = frozenset({"builtin", "haproxy", "nginx", "envoy"})  # production/test/admin are theirs
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "*"})
_HOSTPORT = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})$")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like '500ms', '30s', '15m', '24h'."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s or a number of seconds")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise ValueError(f"expected a duration like 30s, 15m or 500ms, got {value!r}")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def host_port(value: str, *, port_zero: bool = True) -> str:
    """`value` if it is host:port with a port in range, else ValueError."""
    m = _HOSTPORT.match(value) if isinstance(value, str) else None
    low = 0 if port_zero else 1
    if not m or not low <= int(m.group("port")) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
HostPort = Annotated[str, AfterValidator(lambda v: host_port(v, port_zero=False))]


class Model(BaseModel):
    # defer_build: a model's validator is built on first use, so commands that only talk to the
    # agent never pay for the whole schema.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class NoOptions(Model):
    """The options table of a driver that takes none: any key is an unknown key."""


@dataclass(frozen=True)
class DriverEnv:
    """What a driver may know of the rest of the config: it gets its own section and options plus this."""

    app: str
    state_dir: Path  # the state folder (absolute); a driver keeps its files in a folder of its own there
    base_dir: Path  # the folder of turnout.toml: relative paths in options are relative to it
    health: HealthConfig
    # Ports the owned router and the API will bind (they may start after the instances): never an instance's.
    reserved_ports: frozenset[int] = frozenset()


_APP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class AppConfig(Model):
    name: str = Field(description="the app's name: used in the audit log, Kubernetes names and the agent's identity")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _APP_NAME.fullmatch(v):
            raise ValueError(f"1 to 63 letters, digits, '_', '.' or '-', starting with a letter or digit; got {v!r}")
        return v


class RuntimeConfig(Model):
    kind: str = Field(default="process",
                      description="where instances run: process (local "
                                  "processes), static (fixed hosts), kubernetes, or a plugin")
    command: list[str] = Field(default_factory=list,
                               description="process runtime: how to start ONE instance; "
                                           "placeholders {version} {color} {port} {instance}")
    cwd: str = Field(default=".",
                     description="process runtime: working folder of the instances, relative to turnout.toml")
    env: dict[str, str] = Field(default_factory=dict,
                                description="process runtime: extra environment of the instances (same "
                                            "placeholders); PORT and TURNOUT_VERSION/COLOR/INSTANCE/RUNTIME are "
                                            "always set")
    instances: int = Field(default=2, ge=1, le=64, description="instances per color")
    idle_instances: int = Field(default=0, ge=0, le=64,
                                description="scale the retired color down to this "
                                            "many after the retention window (0: stop it)")
    preview_instances: int | None = Field(default=None, ge=1, le=64,
                                          description="start a new release on this many instances while it is "
                                                      "validated, and scale it to `instances` just before the "
                                                      "switch (Argo Rollouts' previewReplicaCount)")
    ready_timeout: Duration = Field(default=30.0,
                                    description="how long new instances may take to "
                                                "pass readiness before the deploy fails")
    stop_grace: Duration = Field(default=10.0,
                                 description="on stop: SIGTERM, wait this long for in-flight requests, then SIGKILL")
    restart: bool = Field(default=True, description="process runtime: restart an instance that exits, on the same port")
    hosts: dict[Literal["blue", "green"], Annotated[list[HostPort], Field(min_length=1)]] = Field(
        default_factory=dict,
        description="static runtime: the host:port of each instance, per color (blue = [...], green = [...])")
    options: dict[str, Any] = Field(default_factory=dict, description="the runtime driver's own options (see its docs)")

    @field_validator("preview_instances")
    @classmethod
    def _preview(cls, v: int | None, info: ValidationInfo) -> int | None:
        if v is not None and v >= info.data.get("instances", 0):
            raise ValueError(f"must be less than instances ({info.data.get('instances')}): a preview is smaller")
        return v

    @field_validator("command")
    @classmethod
    def _command(cls, v: list[str]) -> list[str]:
        for part in v:
            templates.check(part, templates.RUNTIME)
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for value in v.values():
            templates.check(value, templates.RUNTIME)
        return v


class HealthConfig(Model):
    path: str = Field(default="/health/ready", description="readiness path: must answer 2xx `successes` times in a row")
    version_path: str = Field(default="/version",
                              description="must report the deployed version; \"\" turns the version check off "
                                          "(an app that cannot report its version)")
    version_field: str = Field(default="version",
                               description="where version_path holds the version: a JSON field, dotted for a "
                                           "nested one (`build.version`), or \"\" for the whole plain-text body")
    interval: Duration = Field(default=0.2, description="time between readiness probes")
    timeout: Duration = Field(default=2.0, description="per probe")
    successes: int = Field(default=3, ge=1, description="consecutive 2xx answers that make an instance ready")
    deadline: Duration = Field(default=30.0, description="the readiness check gives up after this long")

    @field_validator("path", "version_path")
    @classmethod
    def _path(cls, v: str, info: ValidationInfo) -> str:
        if v.startswith("/") or (v == "" and info.field_name == "version_path"):
            return v
        raise ValueError(f"must be a path starting with /, got {v!r}")


class RouterConfig(Model):
    kind: str = Field(default="builtin",
                      description="how traffic is pointed: builtin (embedded proxy), "
                                  "haproxy, envoy, nginx, kubernetes, gateway_api, aws_alb, or a plugin")
    production: str = Field(default="127.0.0.1:8080",
                            description="production listener (host:port): always the active color")
    test: str = Field(default="127.0.0.1:8081", description="test listener (host:port): always the idle color")
    admin: str = Field(default="127.0.0.1:8082", description="the owned router's admin API: host:port or unix:/path")
    token: str | None = Field(default=None,
                              description="builtin proxy admin token (default: generated, 0600 in the state folder)")
    drain: Duration = Field(default=30.0, description="how long in-flight requests may finish when a router stops")
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="the router driver's own options (see docs/routers.md)")

    @field_validator("production", "test")
    @classmethod
    def _hostport(cls, v: str) -> str:
        return host_port(v)

    @field_validator("admin")
    @classmethod
    def _admin(cls, v: str) -> str:
        if v.startswith("unix:"):
            if not v.removeprefix("unix:").startswith("/"):
                raise ValueError(f"expected unix:/absolute/path, got {v!r}")
            return v
        try:
            return host_port(v)
        except ValueError:
            raise ValueError(f"expected host:port or unix:/path, got {v!r}") from None

    @model_validator(mode="after")
    def _distinct_listeners(self) -> RouterConfig:
        """Two of the router's own listeners on one port: it would not start, or worse, the test
        endpoint would answer production's users (routers that do not listen here are not checked)."""
        clash = same_port(self.listeners())
        if clash:
            raise ValueError(clash)
        return self

    def listeners(self) -> list[tuple[str, str]]:
        """(key, host:port) of what the router itself listens on; none for routers that do not listen here."""
        if self.kind not in LISTENING_ROUTERS:
            return []
        return [(key, getattr(self, key)) for key in ("production", "test", "admin")]


def bound_at(address: str) -> tuple[str, int] | None:
    """(host, port) a listener binds; None for unix:/path or a port chosen at start."""
    m = _HOSTPORT.match(address)
    if m is None or int(m.group("port")) == 0:
        return None
    return m.group("host").strip("[]").lower(), int(m.group("port"))


def same_port(listeners: list[tuple[str, str]]) -> str | None:
    """The first two listeners that would share a port (same host, or one of them a wildcard)."""
    seen: list[tuple[str, str, int]] = []
    for key, address in listeners:
        if (bound := bound_at(address)) is None:
            continue
        host, port = bound
        for other, other_host, other_port in seen:
            if port == other_port and (host == other_host or WILDCARD_HOSTS & {host, other_host}):
                return f"{key} ({address}) and {other} listen on the same port: each needs its own"
        seen.append((key, host, port))
    return None


class CheckConfig(Model):
    """One entry of [[checks]]. `kind` picks the check; its own settings live beside it."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    kind: str = Field(description="which check: readiness, version, smoke, command, latency, error_rate, dependencies, "
                                  "feature_flags, load, soak, smoke-traffic, chaos, sessions, or a plugin")
    name: str | None = Field(default=None,
                             description="its name in the audit log and [analysis.checks.<name>] (default: the kind)")
    command: str | list[str] | None = Field(default=None,
                                            description="smoke/command checks: a shell line or argv; "
                                                        "placeholders {test_url} {production_url} {version} {color}")
    timeout: Duration = Field(default=60.0,
                              description="how long one measurement may run (a "
                                          "check that runs longer by design stretches it)")
    path: str | None = Field(default=None, description="the path the check requests (each check has its own default)")

    @field_validator("command")
    @classmethod
    def _command(cls, v: str | list[str] | None) -> str | list[str] | None:
        for part in [v] if isinstance(v, str) else v or []:
            templates.check(part, templates.CHECK)
        return v

    @property
    def label(self) -> str:
        return self.name or self.kind

    @property
    def options(self) -> dict[str, Any]:
        """The entry's own keys, beside kind/name/command/timeout/path: the check validates them."""
        return dict(self.model_extra or {})


# -- [analysis] and [stabilize]: how checks are judged (the judging is engine/gate.py and watch.py) ------

class Policy(Model):
    """How often one check is measured and how its series is judged (Argo's metric fields)."""

    count: int = Field(default=1, ge=1, description="measurements per check (errors are retried and do not count)")
    interval: Duration = Field(default=0.0, description="time between measurements")
    initial_delay: Duration = Field(default=0.0, description="wait before the first measurement")
    failure_limit: int = Field(default=0, ge=-1,
                               description="FAIL measurements tolerated; -1: failures never fail the gate")
    inconclusive_limit: int = Field(default=0, ge=-1, description="INCONCLUSIVE measurements tolerated; -1: never")
    consecutive_error_limit: int = Field(default=4, ge=-1,
                                         description="ERRORs in a row before the check is judged broken; -1: never")
    consecutive_success_limit: int = Field(default=0, ge=0,
                                           description="PASSes in a row that pass the check early; 0: off")
    timeout: Duration | None = Field(default=None,
                                     description="per measurement; default: the check's own `timeout`, else 600s")


class AnalysisConfig(Policy):
    """`[analysis]`: the default policy, and `[analysis.checks.<check name>]` overrides."""

    checks: dict[str, Policy] = Field(default={},
                                      description="per-check overrides of the fields "
                                                  "above: [analysis.checks.<check name>]")

    def policy_for(self, name: str) -> Policy:
        base = self.model_dump(exclude={"checks"})
        override = self.checks.get(name)
        return Policy(**{**base, **(override.model_dump(exclude_unset=True) if override else {})})


class OutageSettings(Model):
    """Every probe failed for `consecutive` ticks in a row: the live color does not serve at all."""

    enabled: bool = Field(default=True, description="roll back when the live color stops answering")
    consecutive: int = Field(default=2, ge=1, description="probe bursts in a row that all failed")


class ErrorRateSettings(Model):
    """The error rate against the pre-switch baseline (Fisher's exact test plus `tolerance`), or
    against `tolerance` alone without a baseline. Judged over the last burst (a sudden spike
    fires at once, not diluted by the clean bursts before it) and over `lookback` seconds (a
    smaller sustained rise); either one failing fires."""

    enabled: bool = Field(default=True, description="roll back on an error-rate spike")
    lookback: Duration = Field(default=2.0, description="seconds of probes a sustained rise is judged over")
    tolerance: float = Field(default=0.05, ge=0, le=1,
                             description="error rate above the baseline's that is never "
                                         "significant (absolute limit without a baseline)")
    alpha: float = Field(default=0.01, gt=0, lt=1, description="significance level of Fisher's exact test")
    min_samples: int = Field(default=10, ge=1, description="requests needed before a verdict (fewer: inconclusive)")


class LatencySettings(Model):
    """A sequential test (CUSUM) on slow requests over the last `lookback` seconds: slow means
    slower than the baseline median plus `max_increase` of it, and at least `min_shift` more. It
    fires once the evidence that at least half the requests are slow outweighs the baseline's own
    share of slow ones, so a gross slowdown fires after a few requests and a small one never."""

    enabled: bool = Field(default=True, description="roll back on latency degradation")
    lookback: Duration = Field(default=5.0, description="seconds of latencies judged")
    max_increase: float = Field(default=0.5, ge=0,
                                description="allowed rise over the baseline median, as a share of it")
    min_shift: Duration = Field(default=0.025, description="smallest slowdown that counts")
    alpha: float = Field(default=0.01, gt=0, lt=1,
                         description="false alarms allowed per 10,000 requests of a healthy release")
    min_samples: int = Field(default=20, ge=1, description="baseline latencies needed to judge against "
                                                           "(fewer: no verdict)")


class TrafficSettings(Model):
    """`[stabilize.traffic]`: judge the router's counters of real user requests to the live color
    (requests, 5xx, latency histogram) besides the probes. With too little traffic in a window the
    traffic verdict is inconclusive and the probes decide."""

    enabled: bool = Field(default=True, description="read the router's live traffic counters (routers that "
                                                     "keep them: builtin, haproxy, nginx, envoy)")
    interval: Duration = Field(default=0.1, gt=0, description="length of one traffic window")


class ProbeConfig(Model):
    path: str = Field(default="/", description="what the watch requests on the live color")
    requests: int = Field(default=10, ge=1, le=1000, description="requests per probe burst (one burst per interval)")
    concurrency: int = Field(default=5, ge=1, le=100, description="connections of a burst")
    timeout: Duration = Field(default=1.0, description="per request")


class StabilizeConfig(Model):
    """`[stabilize]`: the post-switch watch."""

    window: Duration = Field(default=60.0,
                             description="how long to watch the new color after the switch; 0 turns the watch off")
    interval: Duration = Field(default=0.25, gt=0, description="time between probe bursts")
    baseline: Duration = Field(default=2.0,
                               description="how long to probe the live color before the switch (the baseline)")
    probe: ProbeConfig = Field(default=ProbeConfig(), description="the probe bursts: [stabilize.probe]")
    outage: OutageSettings = Field(default=OutageSettings(), description="trigger: [stabilize.outage]")
    error_rate: ErrorRateSettings = Field(default=ErrorRateSettings(), description="trigger: [stabilize.error_rate]")
    latency: LatencySettings = Field(default=LatencySettings(), description="trigger: [stabilize.latency]")
    traffic: TrafficSettings = Field(default=TrafficSettings(), description="user traffic: [stabilize.traffic]")




class DeployConfig(Model):
    retention: Duration = Field(default=1800.0, description="how long the old color stays warm for instant rollback")
    verify_timeout: Duration = Field(default=10.0, description="how long to wait for the router to serve a new split")
    steps: list[int] = Field(default_factory=list,
                             description="canary percentages before the full "
                                         "switch, rising, 1..100 (router must split)")
    step_window: Duration = Field(default=10.0, description="how long each canary step is watched before the next one")

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: list[int]) -> list[int]:
        return canary_steps(v)


class StateConfig(Model):
    url: str | None = Field(
        default=None, pattern=r"^postgres(ql)?://",
        description="a shared PostgreSQL store instead of state.db (postgresql://...): one lock and one history "
                    "for every operator; environment variables are expanded")
    path: str = Field(default=DEFAULT_STATE,
                      description="folder for state.db (deployments, audit log, lock), logs and the agent socket")


class HooksConfig(Model):
    """`[hooks]`: executables run at these points with TURNOUT_* variables (a string runs in sh)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, populate_by_name=True)
    pre_deploy: str | list[str] | None = Field(default=None, alias="pre-deploy",
                                               description="runs before a deploy starts the new "
                                                           "color; non-zero exit stops the deploy")
    post_switch: str | list[str] | None = Field(default=None, alias="post-switch",
                                                description="runs after traffic moved to the new color")
    post_rollback: str | list[str] | None = Field(default=None, alias="post-rollback",
                                                  description="runs after a rollback")

    def commands(self) -> dict[str, str | list[str]]:
        """Hook name as written in the file -> command, for the hooks that are set."""
        return {name: cmd for name, cmd in self.model_dump(by_alias=True).items() if cmd}


NOTIFY_FORMATS = ("json", "slack", "msteams", "discord", "googlechat", "template")
# What a template may name: the audit event's fields, and `text`, the one-line summary chat formats show.
NOTIFY_FIELDS = frozenset({"event", "app", "action", "outcome", "actor", "at", "time", "from", "to", "version",
                           "active", "phase", "reason", "id", "text"})
_EVENT_PATTERN = re.compile(r"^[a-z_*?]+(:[a-z_*?]+)?$")


class NotifyConfig(Model):
    """One entry of [[notify]]: where turnout posts its audit events, in which format, signed or not.

    Deliveries run in the background (a slow or dead receiver never holds a deploy) and each one is
    recorded: `turnout notify log`. See docs/operators.md."""

    url: str = Field(description="where to POST (http or https); `url = \"${SLACK_WEBHOOK}\"` reads it from the "
                                 "environment (the token stays out of the file)")
    format: Literal["json", "slack", "msteams", "discord", "googlechat", "template"] = Field(
        default="json", description="json (turnout's event), slack (incoming webhook), msteams (Workflows, "
                                    "Adaptive Card), discord (webhook), googlechat (webhook), template")
    name: str | None = Field(default=None, description="its name in the delivery log (default: format@host)")
    content_type: str = Field(default="application/json",
                              description="format = template: the Content-Type; with a JSON type the values "
                                          "are JSON-escaped and the result must be JSON")
    template: str | None = Field(default=None,
                                 description="format = template: the body, with placeholders "
                                             + " ".join(f"{{{n}}}" for n in sorted(NOTIFY_FIELDS)))
    secret: str | None = Field(default=None,
                               description="sign each body: X-Turnout-Signature: sha256=hex(HMAC-SHA256(secret, "
                                           "X-Turnout-Timestamp + \".\" + body)); `${NAME}` reads it from the "
                                           "environment")
    secret_file: str | None = Field(default=None,
                                    description="a file holding the secret (relative to turnout.toml)")
    events: list[str] | None = Field(default=None,
                                     description="which events, as action:outcome patterns (`deploy:*`, "
                                                 "`*:failed`); default: all for json and template, the "
                                                 "headline ones for chat formats")
    timeout: Duration = Field(default=5.0, gt=0, description="per attempt, from connecting to the answer")
    retries: int = Field(default=3, ge=0, le=10,
                         description="attempts after the first on a connection error, timeout, 408, 429 or 5xx")
    backoff: Duration = Field(default=0.5, description="wait before the first retry; it doubles for each next one")
    max_backoff: Duration = Field(default=30.0, description="the longest wait between attempts (also caps "
                                                            "a Retry-After)")
    queue: int = Field(default=100, ge=1, le=10_000,
                       description="events waiting for this target; beyond it new ones are dropped, and the drop "
                                   "is recorded")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^(https?://[^\s/]+|\$\{\w+\}$|\$\w+$)", v):
            raise ValueError(f"expected an http(s) URL or an environment variable, got {v!r}")
        return v

    @field_validator("events")
    @classmethod
    def _events(cls, v: list[str] | None) -> list[str] | None:
        for pattern in v or []:
            if not _EVENT_PATTERN.match(pattern):
                raise ValueError(f"expected action:outcome patterns like deploy:* or *:failed, got {pattern!r}")
        return v

    @field_validator("template")
    @classmethod
    def _template(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        if info.data.get("format") != "template":
            raise ValueError('a template goes with format = "template"')
        templates.check(v, NOTIFY_FIELDS)
        if "json" in info.data.get("content_type", ""):
            sample = {name: json.dumps('a "quoted" value')[1:-1] for name in NOTIFY_FIELDS}
            try:
                json.loads(templates.fill(v, sample))
            except ValueError as exc:
                raise ValueError(f"not JSON once filled ({exc}); put the placeholders inside strings, "
                                 "or set content_type") from None
        return v

    @field_validator("secret_file")
    @classmethod
    def _secret_file(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None and info.data.get("secret") is not None:
            raise ValueError("set `secret` or `secret_file`, not both")
        return v

    @model_validator(mode="after")
    def _has_template(self) -> NotifyConfig:
        if self.format == "template" and self.template is None:
            raise ValueError('format = "template" needs a `template`')
        return self


class DatabaseConfig(Model):
    """`[database]`: the shared database the migrations run on (see docs/migrations.md)."""

    url: str = Field(description="the shared database (PostgreSQL); environment variables are expanded")
    migrations: str = Field(default="migrations",
                            description="folder with expand/ and contract/, relative to turnout.toml")
    lock_timeout: str = Field(default="2s", description="SET lock_timeout for every migration (PostgreSQL syntax)")
    table: str = Field(default="turnout_migrations", description="where applied migrations are recorded")
    version: str | None = Field(default=None,
                                description="target server for migrate check: "
                                            "\"postgresql 15\", \"mysql 8.0.29\", \"mariadb 10.11\"")

    @field_validator("lock_timeout")
    @classmethod
    def _lock_timeout(cls, v: str) -> str:
        if not re.fullmatch(r"\d+\s*(ms|s|min|h)?", v):
            raise ValueError(f"expected e.g. 2s or 500ms, got {v!r}")
        return v

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", v):
            raise ValueError(f"not a plain identifier: {v!r}")
        return v


class ApiConfig(Model):
    """`[api]`: the HTTP API and the dashboard, served by the agent. Every request needs a bearer
    token (`turnout token create --role viewer|operator`); only the OpenAPI document is public."""

    listen: str | None = Field(default=None, description="host:port to serve on, e.g. 127.0.0.1:7390 (loopback "
                                                         "unless you put TLS in front); unset: no HTTP API")

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str | None) -> str | None:
        if v is not None:
            host, _, port = v.rpartition(":")
            if not host or not port.isdigit() or not 0 <= int(port) < 65536:
                raise ValueError(f"expected host:port, got {v!r}")
        return v


class GateConfig(Model):
    """`[[gates]]`: a point where the operation goes on only when told to (Flagger's confirm-*
    webhooks): a URL that must answer 2xx, or a person's `turnout approve`."""

    point: Literal["before-switch", "before-step", "before-promotion"] = Field(
        description="before-switch: after validation, before any traffic moves; before-step: before each "
                    "canary step; before-promotion: before the final 100 % after canary steps")
    url: str | None = Field(default=None, description="POSTed a JSON description of the step; 2xx opens the gate")
    approval: bool = Field(default=False, description="wait for `turnout approve` (or POST /api/v1/approve)")
    timeout: Duration = Field(default=10.0, gt=0, description="how long to wait for the URL's answer or the "
                                                              "approval")
    on_timeout: Literal["halt", "continue"] = Field(default="halt", description="what a timeout means")

    @model_validator(mode="after")
    def _one_kind(self) -> GateConfig:
        if (self.url is None) == (not self.approval):
            raise ValueError("a gate has either a url or approval = true")
        if self.url is not None and not re.match(r"^https?://[^\s/]+", self.url):
            raise ValueError(f"expected an http(s) URL, got {self.url!r}")
        return self


class AlertsConfig(Model):
    """`[alerts]`: alerts posted to the agent (Prometheus Alertmanager's webhook, or generic JSON)
    roll the release back while it is watched or its old color is still warm."""

    match: dict[str, str] = Field(default_factory=dict,
                                  description="labels a firing alert must carry to concern this app "
                                              "(default: app = the app's name)")


class Config(Model):
    app: AppConfig = Field(description="[app]")
    runtime: RuntimeConfig = Field(default=RuntimeConfig(), description="[runtime]: where the instances run")
    health: HealthConfig = Field(default=HealthConfig(), description="[health]: readiness and version probes")
    router: RouterConfig = Field(default=RouterConfig(), description="[router]: how traffic is pointed")
    checks: list[CheckConfig] = Field(default_factory=list,
                                      description="[[checks]]: run against the test endpoint "
                                                  "before the switch, after readiness and version")
    deploy: DeployConfig = Field(default=DeployConfig(), description="[deploy]: retention, canary steps")
    analysis: AnalysisConfig = Field(default=AnalysisConfig(),
                                     description="[analysis]: how check measurements are judged (Argo-style limits)")
    stabilize: StabilizeConfig = Field(default=StabilizeConfig(),
                                       description="[stabilize]: the post-switch watch and its rollback triggers")
    state: StateConfig = Field(default=StateConfig(), description="[state]: where turnout keeps its state")
    hooks: HooksConfig = Field(default=HooksConfig(),
                               description="[hooks]: executables run at these points with TURNOUT_* variables")
    webhooks: list[str] = Field(default_factory=list,
                                description="URLs that receive a JSON event for every audit entry (each is a "
                                            "[[notify]] target with format = \"json\" and the defaults)")
    notify: list[NotifyConfig] = Field(default_factory=list,
                                       description="[[notify]]: targets that receive turnout's events (Slack, Teams, "
                                                   "Discord, Google Chat, JSON, a template), signed, retried, recorded")
    database: DatabaseConfig | None = Field(default=None,
                                            description="[database]: migrations in expand/contract phases")
    api: ApiConfig = Field(default=ApiConfig(), description="[api]: the HTTP API and dashboard")
    gates: list[GateConfig] = Field(default_factory=list, description="[[gates]]: webhooks or approvals an "
                                                                      "operation must pass at these points")
    alerts: AlertsConfig = Field(default=AlertsConfig(), description="[alerts]: alert-driven rollback")

    # Where the file lives; relative paths in it are relative to this folder.
    base_dir: Path = Field(default=Path("."), exclude=True)
    _source: str = PrivateAttr(default=DEFAULT_FILE)
    _lines: dict[Key, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _api_port(self) -> Config:
        if self.api.listen and (clash := same_port(self.listeners())):
            raise ValueError(clash)
        return self

    def listeners(self) -> list[tuple[str, str]]:
        """(key, address) of all turnout itself listens on: the owned router's listeners and `[api] listen`."""
        ours = [(f"router.{key}", address) for key, address in self.router.listeners()]
        return ours + ([("api.listen", self.api.listen)] if self.api.listen else [])

    @field_validator("webhooks")
    @classmethod
    def _webhooks(cls, v: list[str]) -> list[str]:
        for url in v:
            if not re.match(r"^https?://[^\s/]+", url):
                raise ValueError(f"expected an http(s) URL, got {url!r}")
        return v

    def state_dir(self) -> Path:
        return state_dir(self.base_dir, self.state.path)

    def driver_env(self) -> DriverEnv:
        return DriverEnv(self.app.name, self.state_dir(), self.base_dir.resolve(), self.health,
                         self.reserved_ports())

    def reserved_ports(self) -> frozenset[int]:
        """The ports of all turnout listens on (unix sockets have none)."""
        return frozenset(bound[1] for _, address in self.listeners() if (bound := bound_at(address)))

    def locate(self, exc: ConfigError) -> ConfigError:
        """`exc` with the file and line of each problem's key path."""
        from turnout.config.lines import where

        return exc.located(lambda key: where(key, self._source, self._lines))
