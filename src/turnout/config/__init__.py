"""turnout.toml: found, parsed with tomllib, validated in one pass by the schema; every error names
its key path and line.

schema     every section and the rules its values follow
lines      which line each key is written on
templates  the placeholders of commands ({version}, {port}, {test_url}...)
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from turnout.config.lines import key_lines, where
from turnout.config.schema import (
    AnalysisConfig,
    AppConfig,
    CheckConfig,
    Config,
    DatabaseConfig,
    DeployConfig,
    DriverEnv,
    Duration,
    ErrorRateSettings,
    GateConfig,
    HealthConfig,
    HooksConfig,
    LatencySettings,
    Model,
    NoOptions,
    OutageSettings,
    Policy,
    ProbeConfig,
    RouterConfig,
    RuntimeConfig,
    StabilizeConfig,
    StateConfig,
    TrafficSettings,
    host_port,
    parse_duration,
)
from turnout.errors import ConfigError, Key, Problem
from turnout.locations import DEFAULT_FILE, find_config
from turnout.model import canary_steps

__all__ = [
    "DEFAULT_FILE",
    "AnalysisConfig",
    "AppConfig",
    "CheckConfig",
    "Config",
    "DatabaseConfig",
    "DeployConfig",
    "DriverEnv",
    "Duration",
    "ErrorRateSettings",
    "GateConfig",
    "HealthConfig",
    "HooksConfig",
    "LatencySettings",
    "Model",
    "NoOptions",
    "OutageSettings",
    "Policy",
    "ProbeConfig",
    "RouterConfig",
    "RuntimeConfig",
    "StabilizeConfig",
    "StateConfig",
    "TrafficSettings",
    "canary_steps",
    "find",
    "host_port",
    "load",
    "parse",
    "parse_duration",
    "parse_options",
    "starter",
]
M = TypeVar("M", bound=BaseModel)
_MESSAGES = {"extra_forbidden": "unknown key", "missing": "field required"}


def problems_of(exc: ValidationError, prefix: Key = ()) -> list[Problem]:
    """pydantic's errors as problems with key paths (validator-function steps dropped from the path)."""
    out = []
    for err in exc.errors():
        # validator steps are not keys; "[key]" marks a problem with a table's key (the key is before it)
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (p.startswith("function-") or p == "[key]")))
        msg = _MESSAGES.get(err["type"], err["msg"].removeprefix("Value error, "))
        if err["type"] == "string_pattern_mismatch":  # the pattern alone does not say which value broke it
            msg += f"; got {err['input']!r}"
        out.append(Problem((*prefix, *loc), msg))
    return out


def parse_options(model: type[M], options: Mapping[str, Any], key: Key) -> M:
    """Validate a driver's own options table (`router.options`, a check's keys) with `model`;
    every problem is keyed under `key`, so the file line is found without reading the message."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        raise ConfigError(problems=problems_of(exc, key)) from None


def parse(text: str, *, source: str = DEFAULT_FILE, base_dir: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    lines = key_lines(text)
    if controls := list(_control_chars(data)):  # a NUL reaches paths and argv, where it is an OS error
        err = ConfigError(problems=[Problem(key, "a control character (NUL) is not allowed in a value")
                                    for key in controls])
        raise err.located(lambda key: where(key, source, lines)) from None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        err = ConfigError(problems=problems_of(exc), hint="`turnout check-config` lists every problem")
        raise err.located(lambda key: where(key, source, lines)) from None
    cfg = cfg.model_copy(update={"base_dir": base_dir or Path(".")})
    cfg._source, cfg._lines = source, lines
    return cfg


def _control_chars(value: Any, key: Key = ()) -> Iterator[Key]:
    """The keys whose string values (or table keys) hold a NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            yield key
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from ((*key, k),) if "\x00" in k else _control_chars(v, (*key, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _control_chars(v, (*key, i))


find = find_config


def load(path: str | Path | None = None) -> Config:
    file = find(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    return parse(text, source=str(file), base_dir=file.parent.resolve())


def starter(*, name: str, python: str, app: str) -> str:
    """The commented turnout.toml `turnout init` writes."""
    text = resources.files("turnout.config").joinpath("starter.toml").read_text(encoding="utf-8")
    return text.format(name=name, python=python, app=app)
