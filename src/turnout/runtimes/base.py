"""The Runtime protocol: runs a release's instances for a color. Calls are idempotent."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from turnout.model import Color, Endpoint, EnvStatus, Release


@runtime_checkable
class Runtime(Protocol):
    kind: str

    async def start(self, release: Release, color: Color, instances: int | None = None) -> list[Endpoint]:
        """Start the release on `color` (replacing what ran there); return endpoints once ready."""

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
