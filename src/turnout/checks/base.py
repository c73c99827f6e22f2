"""What a check is: the target it measures, the protocol, the construction contract, the one timeout rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict

from turnout.config import CheckConfig, DriverEnv
from turnout.errors import ConfigError
from turnout.model import Color, Endpoint, Measurement, Release


@dataclass(frozen=True)
class Target:
    """What a check measures: the test endpoint of the idle color, plus the live one for comparison."""

    url: str  # test endpoint (or the color's own URL after the switch)
    color: Color
    release: Release
    baseline_url: str = ""  # production endpoint, for comparisons against the live color
    endpoints: tuple[Endpoint, ...] = ()  # the color's instances, when the runtime knows them
    pids: tuple[int, ...] = ()  # their processes, in the order of `endpoints` (the process runtime)
    metrics_url: str = ""  # the router's per-color metrics, when it has them
    metrics_authorization: str = ""  # the header value those metrics need


@runtime_checkable
class Check(Protocol):
    """A check as the gate runs it: one measurement per call; judging is the gate's job."""

    name: str
    timeout: float  # how long the gate lets one measurement run before it counts as an ERROR

    async def measure(self, target: Target) -> Measurement: ...


class CheckDriver(Check, Protocol):
    """A check class as the registry hands it out (docs/writing-a-driver.md).

    `kind` is the `[[checks]] kind` it is registered under in the `turnout.checks` entry points;
    `Options` validates the entry's own keys (beside kind/name/command/timeout/path); `from_options`
    builds it with the entry, the validated options and a `DriverEnv`, without I/O."""

    kind: ClassVar[str]
    Options: ClassVar[type[BaseModel]]

    @classmethod
    def from_options(cls, entry: CheckConfig, options: Any, env: DriverEnv) -> Self: ...


class Options(BaseModel):
    """A check's own keys beside `kind`/`name`/`path`/`timeout` in its [[checks]] entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RunsFor:
    """A check that runs for a designed time (synthetic load, a metrics window, a chaos run): the
    gate allows it that time plus room (`time_limit`). Subclasses take (options, *, name, path)."""

    timeout: float

    def _needs(self) -> float:
        raise NotImplementedError

    @classmethod
    def from_options(cls, entry: CheckConfig, options: Any, env: DriverEnv) -> Self:
        self = cls(options, name=entry.label, path=entry.path or "/")  # type: ignore[call-arg]
        self.timeout = time_limit(entry, self._needs())
        return self


def stretched(needs: float) -> float:
    """What the gate allows a check that runs `needs` seconds by design: room for a slow machine."""
    return needs * 1.2 + 10


def time_limit(entry: CheckConfig, needs: float) -> float:
    """The entry's own `timeout` if set (it must cover the check's designed run), else `timeout`'s
    default stretched to fit the run."""
    if "timeout" in entry.model_fields_set:
        if entry.timeout < needs:
            raise ConfigError(f"{entry.timeout:g}s is shorter than the check's own run of {needs:g}s",
                              key=("timeout",))
        return entry.timeout
    return max(entry.timeout, stretched(needs))
