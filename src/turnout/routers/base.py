"""What a router driver is: the contract a driver author reads first (docs/writing-a-driver.md).

Construction. A driver class names its `kind` (the `router.kind` it is registered under in the
`turnout.routers` entry points), says whether it `can_split` traffic by weight, and declares an
`Options` pydantic model for its `[router.options]` table. turnout validates that table with it
(every problem keyed `router.options.<key>`, so the error names the line) and then calls
`from_options(section, options, env)`: the `[router]` section (production/test listeners, admin,
drain), the validated options, and a `DriverEnv` (app name, state folder, config folder). The
constructor must not touch the network or start anything: `turnout check-config` builds every
driver to validate it.

The four calls. Every call is idempotent, and none is trusted: the engine reads `observe()` back
until the router serves the split it asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from pydantic import BaseModel

from turnout.config import DriverEnv, RouterConfig
from turnout.model import Color, Endpoint, RouteState, Traffic, Weights


@runtime_checkable
class Router(Protocol):
    """A router as the engine drives it."""

    kind: ClassVar[str]
    can_split: ClassVar[bool]  # whether route() accepts weights other than 0/100

    async def prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        """Make the router know each given color's instances; a color left out keeps its own.
        Starts the router process (or adopts a running one) if the driver owns it."""

    async def route(self, weights: Weights) -> None:
        """Ask for a traffic split; the test endpoint serves the color with less weight."""

    async def observe(self) -> RouteState:
        """Read back what the router really serves. RouterError if it cannot be read."""

    async def release(self) -> None:
        """Stop what prepare() started (owned router processes); leave attached routers running."""


@runtime_checkable
class TrafficSource(Protocol):
    """Optional, and every router turnout owns has it: the live production traffic per color, so
    the post-switch watch judges what users get rather than its own probes."""

    async def traffic(self) -> Traffic:
        """Cumulative counters of the production listener only (never the test listener), per color:
        answered requests, 5xx among them (the router's own too), and a latency histogram if the
        router keeps one. Cheap: the watch reads it about ten times a second. RouterError if it
        cannot be read."""


class RouterDriver(Router, Protocol):
    """A router class as the registry hands it out: its name, options model and constructor."""

    Options: ClassVar[type[BaseModel]]

    @classmethod
    def from_options(cls, section: RouterConfig, options: Any, env: DriverEnv) -> Self:
        """Build the driver from its validated `Options`; no I/O."""
