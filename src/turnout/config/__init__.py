"""turnout.toml: parsed with tomllib, validated by pydantic; every error names key path and line."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from turnout.errors import ConfigError

DEFAULT_FILE = "turnout.toml"
M = TypeVar("M", bound=BaseModel)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


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


Duration = Annotated[float, BeforeValidator(parse_duration)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppConfig(Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


class RuntimeConfig(Model):
    kind: str = "process"
    command: list[str] = Field(default_factory=list)
    cwd: str = "."
    env: dict[str, str] = Field(default_factory=dict)
    instances: int = Field(default=2, ge=1, le=64)
    idle_instances: int = Field(default=0, ge=0, le=64)  # scale the retired color down to this
    ready_timeout: Duration = 30.0
    stop_grace: Duration = 10.0
    restart: bool = True
    hosts: dict[str, list[str]] = Field(default_factory=dict)  # static runtime: color -> host:port
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("command")
    @classmethod
    def _placeholders(cls, v: list[str]) -> list[str]:
        for part in v:
            for name in re.findall(r"{(\w*)}", part):
                if name not in {"version", "color", "port", "instance"}:
                    known = "{version}, {color}, {port}, {instance}"
                    raise ValueError(f"unknown placeholder {{{name}}}; use {known}")
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
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError(f"expected host:port, got {v!r}")
        return v


class CheckConfig(Model):
    """One entry of [[checks]]. `kind` picks the check; its own settings live beside it."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: str
    name: str | None = None
    command: str | list[str] | None = None
    timeout: Duration = 60.0
    path: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.kind



# -- [analysis] and [stabilize]: how checks are judged (the judging itself is in analysis.py) --------

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


class DeployConfig(Model):
    retention: Duration = 1800.0  # how long the old color stays warm for instant rollback
    verify_timeout: Duration = 10.0  # how long to wait for the router to serve the new split
    steps: list[int] = Field(default_factory=list)  # canary percentages before the full switch
    step_window: Duration = 10.0  # how long each canary step is watched before the next one


class StateConfig(Model):
    path: str = ".turnout"  # folder for state.db, logs, agent socket


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
    hooks: dict[str, str | list[str]] = Field(default_factory=dict)
    webhooks: list[str] = Field(default_factory=list)
    database: dict[str, Any] = Field(default_factory=dict)

    # Where the file lives; relative paths in it are relative to this folder.
    base_dir: Path = Field(default=Path("."), exclude=True)
    _source: str = PrivateAttr(default=DEFAULT_FILE)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    def state_dir(self) -> Path:
        return (self.base_dir / self.state.path).resolve()

    def where(self, *key: str | int) -> str:
        """' (turnout.toml line N)' for a key path, so drivers' own option errors point at the file too."""
        line = _locate(key, self._lines)
        return f" ({self._source} line {line})" if line else f" ({self._source})"

    def located(self, exc: ConfigError) -> ConfigError:
        """`exc` with the file and line of the key path it starts with (`router.options.socket: ...`)."""
        text = str(exc)
        if f"({self._source}" in text or ":" not in text:
            return exc
        key: list[str | int] = []
        for part in text.split(":", 1)[0].strip().split("."):
            name, _, index = part.partition("[")
            key.append(name)
            if index.rstrip("]").isdigit():
                key.append(int(index.rstrip("]")))
        return ConfigError(f"{text}{self.where(*key)}", hint=exc.hint)


def parse_options(model: type[M], options: Mapping[str, Any], prefix: str) -> M:
    """Validate a driver's own options table (e.g. `router.options`); every problem names its key."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(options)"
            msg = {"extra_forbidden": "unknown key", "missing": "field required"}.get(
                err["type"], err["msg"].removeprefix("Value error, "))
            problems.append(f"{prefix}.{key}: {msg}")
        raise ConfigError("; ".join(problems)) from None


def _key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map dotted key paths to the line they are written on (tables, array tables, keys)."""
    lines: dict[tuple[str | int, ...], int] = {}
    table: tuple[str | int, ...] = ()
    arrays: dict[tuple[str | int, ...], int] = {}
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if m := re.match(r"^\[\[\s*([^\]]+?)\s*\]\]", line):
            base = tuple(p.strip().strip('"') for p in m.group(1).split("."))
            arrays[base] = arrays.get(base, -1) + 1
            table = (*base, arrays[base])
            lines.setdefault(base, no)
            lines[table] = no
        elif m := re.match(r"^\[\s*([^\]]+?)\s*\]", line):
            table = tuple(p.strip().strip('"') for p in m.group(1).split("."))
            lines.setdefault(table, no)
        elif m := re.match(r'^("?[\w.-]+"?(?:\s*\.\s*"?[\w-]+"?)*)\s*=', line):
            key = tuple(p.strip().strip('"') for p in m.group(1).split("."))
            lines.setdefault((*table, *key), no)
    return lines


def _locate(loc: tuple[str | int, ...], lines: dict[tuple[str | int, ...], int]) -> int | None:
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def parse(text: str, *, source: str = DEFAULT_FILE, base_dir: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        lines = _key_lines(text)
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            path = ".".join(str(p) for p in loc) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            elif err["type"] == "missing":
                msg = "field required"
            line = _locate(loc, lines)
            where = f" ({source} line {line})" if line else f" ({source})"
            problems.append(f"{path}: {msg}{where}")
        raise ConfigError("; ".join(problems), hint="`turnout check-config` lists every problem") from None
    cfg = cfg.model_copy(update={"base_dir": base_dir or Path(".")})
    cfg._source, cfg._lines = source, _key_lines(text)
    return cfg


def find(path: str | Path | None = None) -> Path:
    """The config file: the given path, else turnout.toml in this folder or a parent."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{p}: no such config file", hint="create one with `turnout init`")
        return p
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_FILE).is_file():
            return folder / DEFAULT_FILE
    raise ConfigError(f"no {DEFAULT_FILE} here or in a parent folder", hint="create one with `turnout init`")


def load(path: str | Path | None = None) -> Config:
    file = find(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    return parse(text, source=str(file), base_dir=file.parent.resolve())


STARTER = '''\
# turnout.toml: one app, two colors (blue and green), one router in front.
# Durations take 500ms, 30s, 15m, 24h or a number of seconds.

[app]
name = "{name}"

[runtime]
kind = "process"            # run instances as local child processes
# How to start ONE instance. Placeholders: {{version}} {{color}} {{port}} {{instance}}.
# PORT, TURNOUT_VERSION and TURNOUT_COLOR are also set in its environment.
command = ["{python}", "{app}", "--port", "{{port}}", "--version", "{{version}}"]
cwd = "."
instances = 2               # per color
idle_instances = 0          # scale the retired color down to this after the retention window
ready_timeout = "30s"
stop_grace = "10s"          # SIGTERM, wait this long for in-flight requests, then SIGKILL

[health]
path = "/health/ready"      # readiness: must answer 2xx `successes` times in a row
version_path = "/version"   # must report the deployed version (JSON field `version`)
successes = 3
interval = "200ms"

[router]
kind = "builtin"            # the embedded proxy; also: haproxy, envoy, nginx
production = "127.0.0.1:8080"   # users: always the active color
test = "127.0.0.1:8081"         # validation: always the idle color
admin = "127.0.0.1:8082"        # admin API (token in the state folder)

[deploy]
retention = "30m"           # keep the old color warm this long for instant rollback
# steps = [5, 25, 50, 100]  # canary: shift traffic in steps, each watched for step_window

[stabilize]                 # after the switch, watch the live color; a trigger switches back
window = "60s"              # 0 turns the watch off
interval = "250ms"
# [stabilize.error_rate] tolerance = 0.05   (also [stabilize.outage] and [stabilize.latency])

# Extra checks run against the test endpoint before the switch.
# [[checks]]
# kind = "smoke"
# command = "pytest tests/smoke --base-url {{test_url}}"
# timeout = "2m"

[state]
path = ".turnout"           # state.db (deployments, audit log, lock), logs, agent socket
'''
