"""Drivers found by name through entry points: the only list of them is pyproject.toml.

turnout's own drivers are registered the same way a third party's are (`turnout.routers`,
`turnout.runtimes`, `turnout.checks`). The loaders here return classes; what a class must offer
is written in routers/base.py, runtimes/base.py and checks/base.py (the registry checks the
shape, so a broken plugin is a clear config error, not a crash in the middle of a deploy).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from turnout.errors import ConfigError, Key

GROUPS = {"routers": "turnout.routers", "runtimes": "turnout.runtimes", "checks": "turnout.checks"}
_REQUIRED = {"routers": ("kind", "can_split", "Options", "from_options"),
             "runtimes": ("kind", "Options", "from_options"), "checks": ("kind", "Options", "from_options")}


def names(kind: str) -> list[str]:
    """The names registered for `kind` (routers, runtimes, checks)."""
    return sorted({ep.name for ep in entry_points(group=GROUPS[kind])})


def load(kind: str, name: str, *, key: Key) -> Any:
    """The driver class registered as `name`; `key` is where the name is written, for the error."""
    found = [ep for ep in entry_points(group=GROUPS[kind]) if ep.name == name]
    if not found:
        known = ", ".join(names(kind)) or "none: is turnout installed (pip install -e .)?"
        raise ConfigError(f"unknown {kind[:-1]} {name!r} (known: {known})", key=key)
    try:
        cls = found[0].load()
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{name!r} is not available: {exc}", key=key) from None
    missing = [attr for attr in _REQUIRED[kind] if not hasattr(cls, attr)]
    if missing:
        raise ConfigError(f"{name!r} ({found[0].value}) is not a turnout {kind[:-1]} driver: it lacks "
                          f"{', '.join(missing)} (see docs/writing-a-driver.md)", key=key)
    return cls
