"""The schema of turnout.toml: every section and every rule a value must follow, in one pass.

Drivers' own `options` tables are validated by the driver's Options model when the stack is built
(`turnout check-config` builds it without starting anything); everything else is checked here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator

from turnout.config import templates
from turnout.errors import ConfigError, Key
from turnout.locations import DEFAULT_FILE, DEFAULT_STATE, state_dir

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
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


class AppConfig(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class RuntimeConfig(Model):
    kind: str = "process"
    command: list[str] = Field(default_factory=list)  # process runtime: how to start ONE instance
    cwd: str = "."
    env: dict[str, str] = Field(default_factory=dict)
    instances: int = Field(default=2, ge=1, le=64)
    idle_instances: int = Field(default=0, ge=0, le=64)  # scale the retired color down to this
    ready_timeout: Duration = 30.0
    stop_grace: Duration = 10.0
    restart: bool = True
    # static runtime: color -> the host:port of each instance
    hosts: dict[Literal["blue", "green"], Annotated[list[HostPort], Field(min_length=1)]] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)

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
    path: str = "/health/ready"
    version_path: str = "/version"
    version_field: str = "version"
    interval: Duration = 0.2
    timeout: Duration = 2.0
    successes: int = Field(default=3, ge=1)
    deadline: Duration = 30.0  # give up on readiness after this long


class RouterConfig(Model):
    kind: str = "builtin"
    production: str = "127.0.0.1:8080"
    test: str = "127.0.0.1:8081"
    admin: str = "127.0.0.1:8082"  # host:port or unix:/path
    token: str | None = None  # default: generated and kept in the state folder
    drain: Duration = 30.0
    options: dict[str, Any] = Field(default_factory=dict)

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


class CheckConfig(Model):
    """One entry of [[checks]]. `kind` picks the check; its own settings live beside it."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)
    kind: str
    name: str | None = None
    command: str | list[str] | None = None
    timeout: Duration = 60.0
    path: str | None = None

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

    count: int = Field(default=1, ge=1)
    interval: Duration = 0.0
    initial_delay: Duration = 0.0
    failure_limit: int = Field(default=0, ge=-1)  # -1: failures never fail the gate
    inconclusive_limit: int = Field(default=0, ge=-1)
    consecutive_error_limit: int = Field(default=4, ge=-1)
    consecutive_success_limit: int = Field(default=0, ge=0)  # 0: off
    timeout: Duration | None = None  # per measurement; default: the check's own `timeout`, else 600s


class AnalysisConfig(Policy):
    """`[analysis]`: the default policy, and `[analysis.checks.<check name>]` overrides."""

    checks: dict[str, Policy] = {}

    def policy_for(self, name: str) -> Policy:
        base = self.model_dump(exclude={"checks"})
        override = self.checks.get(name)
        return Policy(**{**base, **(override.model_dump(exclude_unset=True) if override else {})})


class OutageSettings(Model):
    """Every probe failed for `consecutive` ticks in a row: the live color does not serve at all."""

    enabled: bool = True
    consecutive: int = Field(default=2, ge=1)


class ErrorRateSettings(Model):
    """The error rate against the pre-switch baseline (Fisher's exact test plus `tolerance`), or
    against `tolerance` alone without a baseline. Judged over the last burst (a sudden spike
    fires at once, not diluted by the clean bursts before it) and over `lookback` seconds (a
    smaller sustained rise); either one failing fires."""

    enabled: bool = True
    lookback: Duration = 2.0
    tolerance: float = Field(default=0.05, ge=0, le=1)
    alpha: float = Field(default=0.01, gt=0, lt=1)
    min_samples: int = Field(default=10, ge=1)


class LatencySettings(Model):
    """Latencies of the last `lookback` seconds significantly slower than the baseline's, by more
    than `max_increase` of its median and `min_shift` (Mann-Whitney U, Hodges-Lehmann shift)."""

    enabled: bool = True
    lookback: Duration = 5.0
    max_increase: float = Field(default=0.5, ge=0)
    min_shift: Duration = 0.025
    alpha: float = Field(default=0.01, gt=0, lt=1)
    min_samples: int = Field(default=50, ge=1)


class ProbeConfig(Model):
    path: str = "/"
    requests: int = Field(default=10, ge=1, le=1000)  # per tick
    concurrency: int = Field(default=5, ge=1, le=100)
    timeout: Duration = 1.0


class StabilizeConfig(Model):
    """`[stabilize]`: the post-switch watch."""

    window: Duration = 60.0  # how long to watch the new color after the switch; 0 turns the watch off
    interval: Duration = Field(default=0.25, gt=0)
    baseline: Duration = 2.0  # how long to probe the live color before the switch
    probe: ProbeConfig = ProbeConfig()
    outage: OutageSettings = OutageSettings()
    error_rate: ErrorRateSettings = ErrorRateSettings()
    latency: LatencySettings = LatencySettings()


def canary_steps(steps: list[int]) -> list[int]:
    """Canary percentages rise strictly, each from 1 to 100 (100 is the switch itself)."""
    if any(not 0 < p <= 100 for p in steps) or steps != sorted(set(steps)):
        raise ValueError(f"canary steps must rise from 1 to 100 percent, got {steps}")
    return steps


class DeployConfig(Model):
    retention: Duration = 1800.0  # how long the old color stays warm for instant rollback
    verify_timeout: Duration = 10.0  # how long to wait for the router to serve the new split
    steps: list[int] = Field(default_factory=list)  # canary percentages before the full switch
    step_window: Duration = 10.0  # how long each canary step is watched before the next one

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: list[int]) -> list[int]:
        return canary_steps(v)


class StateConfig(Model):
    path: str = DEFAULT_STATE  # folder for state.db, logs, agent socket


class HooksConfig(Model):
    """`[hooks]`: executables run at these points with TURNOUT_* variables (a string runs in sh)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True, populate_by_name=True)
    pre_deploy: str | list[str] | None = Field(default=None, alias="pre-deploy")
    post_switch: str | list[str] | None = Field(default=None, alias="post-switch")
    post_rollback: str | list[str] | None = Field(default=None, alias="post-rollback")

    def commands(self) -> dict[str, str | list[str]]:
        """Hook name as written in the file -> command, for the hooks that are set."""
        return {name: cmd for name, cmd in self.model_dump(by_alias=True).items() if cmd}


class DatabaseConfig(Model):
    """`[database]`: the shared database the migrations run on (see docs/migrations.md)."""

    url: str  # environment variables are expanded when it is used
    migrations: str = "migrations"  # folder (relative to turnout.toml) with expand/ and contract/
    lock_timeout: str = "2s"  # SET lock_timeout for every migration (PostgreSQL syntax)
    table: str = "turnout_migrations"  # where applied migrations are recorded
    version: str | None = None  # target server, e.g. "postgresql 15", "mysql 8.0.29", "mariadb 10.11"

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


class Config(Model):
    app: AppConfig
    runtime: RuntimeConfig = RuntimeConfig()
    health: HealthConfig = HealthConfig()
    router: RouterConfig = RouterConfig()
    checks: list[CheckConfig] = Field(default_factory=list)
    deploy: DeployConfig = DeployConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    stabilize: StabilizeConfig = StabilizeConfig()
    state: StateConfig = StateConfig()
    hooks: HooksConfig = HooksConfig()
    webhooks: list[str] = Field(default_factory=list)
    database: DatabaseConfig | None = None

    # Where the file lives; relative paths in it are relative to this folder.
    base_dir: Path = Field(default=Path("."), exclude=True)
    _source: str = PrivateAttr(default=DEFAULT_FILE)
    _lines: dict[Key, int] = PrivateAttr(default_factory=dict)

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
        return DriverEnv(self.app.name, self.state_dir(), self.base_dir.resolve(), self.health)

    def locate(self, exc: ConfigError) -> ConfigError:
        """`exc` with the file and line of each problem's key path."""
        from turnout.config.lines import where

        return exc.located(lambda key: where(key, self._source, self._lines))
