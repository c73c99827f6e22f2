"""The Router protocol every router driver implements. Calls are idempotent and read back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from turnout.config import parse_options as config_parse_options
from turnout.model import Color, Endpoint, RouteState, Weights

M = TypeVar("M", bound=BaseModel)


@runtime_checkable
class Router(Protocol):
    kind: str
    can_split: bool  # whether route() accepts weights other than 0/100

    async def prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        """Make the router know each color's instances (creates its config/process if it owns one)."""

    async def route(self, weights: Weights) -> None:
        """Ask for a traffic split; the test endpoint serves the color with less weight."""

    async def observe(self) -> RouteState:
        """Read back what the router really serves."""

    async def release(self) -> None:
        """Stop what prepare() started (owned router processes); leave attached routers running."""


def parse_options(model: type[M], options: Mapping[str, Any]) -> M:
    """Validate a driver's `router.options`; every problem names its key."""
    return config_parse_options(model, options, "router.options")
