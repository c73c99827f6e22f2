"""What a runtime driver is: where a color's instances run (docs/writing-a-driver.md).

Construction, as for routers: `kind` (the `runtime.kind` it is registered under in the
`turnout.runtimes` entry points), an `Options` model for `[runtime.options]`, and
`from_options(section, options, env)` with the `[runtime]` section, the validated options and a
`DriverEnv`; no I/O there. Every call is idempotent; `status()` reports what really runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from pydantic import BaseModel

from turnout.config import DriverEnv, RuntimeConfig
from turnout.model import Color, Endpoint, EnvStatus, LogLine, Release


@runtime_checkable
class Runtime(Protocol):
    """A runtime as the engine drives it."""

    kind: ClassVar[str]

    async def start(self, release: Release, color: Color, instances: int | None = None) -> list[Endpoint]:
        """Start the release on `color` (replacing what ran there); return endpoints once ready.
        RuntimeFailure when instances do not become ready within runtime.ready_timeout."""

    async def stop(self, color: Color, drain: float | None = None) -> None:
        """Stop every instance of `color`: SIGTERM, wait `drain` seconds, then SIGKILL."""

    async def scale(self, color: Color, count: int) -> list[Endpoint]:
        """Run exactly `count` instances of the color's current release."""

    async def status(self, color: Color) -> EnvStatus:
        """What runs on `color` and whether each instance answers its readiness probe."""

    async def recover(self) -> None:
        """Adopt instances a previous host process left running, or forget dead ones."""

    async def close(self) -> None:
        """Stop supervising; instances keep running unless stopped explicitly."""


@runtime_checkable
class LogSource(Protocol):
    """Optional: a runtime that can show what its instances print (`turnout logs COLOR`)."""

    def logs(self, color: Color, *, lines: int = 100, follow: bool = False) -> AsyncIterator[LogLine]:
        """The last `lines` lines of every instance of `color`, oldest first; with `follow`, then
        new lines as they come until the caller stops iterating."""


class RuntimeDriver(Runtime, Protocol):
    """A runtime class as the registry hands it out."""

    Options: ClassVar[type[BaseModel]]

    @classmethod
    def from_options(cls, section: RuntimeConfig, options: Any, env: DriverEnv) -> Self:
        """Build the driver from its validated `Options`; no I/O."""
