"""The Check protocol and the target it measures; what every check shares: options with key paths, timeouts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from turnout.config import CheckConfig, Config, parse_options
from turnout.errors import ConfigError
from turnout.model import Color, Endpoint, Measurement, Release

M = TypeVar("M", bound=BaseModel)


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


class Options(BaseModel):
    """A check's own keys beside `kind`/`name`/`path`/`timeout` in its [[checks]] entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def where(cc: CheckConfig, cfg: Config) -> str:
    """`checks[2]`: the entry's place in turnout.toml, for error messages."""
    for i, entry in enumerate(cfg.checks):
        if entry is cc or entry == cc:
            return f"checks[{i}]"
    return f"checks.{cc.label}"


def options(model: type[M], cc: CheckConfig, cfg: Config, defaults: dict[str, Any] | None = None) -> M:
    """The entry's own keys validated by `model`; `defaults` fill in what the entry leaves out."""
    try:
        return parse_options(model, {**(defaults or {}), **(cc.model_extra or {})}, where(cc, cfg))
    except ConfigError as exc:
        raise ConfigError(str(exc), hint=f"see the {cc.kind!r} check's options in the docs") from None


def check_timeout(cc: CheckConfig, cfg: Config, needs: float) -> float:
    """The time the runner may give this check: its own `timeout` if set (and long enough), else
    the default stretched to fit a check that runs for `needs` seconds by design."""
    if "timeout" in cc.model_fields_set:
        if cc.timeout < needs:
            raise ConfigError(f"{where(cc, cfg)}.timeout: {cc.timeout:g}s is shorter than the check's "
                              f"own run of {needs:g}s")
        return cc.timeout
    return max(cc.timeout, needs * 1.2 + 10)
