"""Public test helpers for driver authors and turnout's own tests. Importable without pytest.

backends   ColorBackends: small HTTP servers answering with their color, on free loopback ports
contracts  the contract suites every driver passes (pytest)
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from turnout.config import CheckConfig, Config

D = TypeVar("D")


def router_from_config(cls: type[D], cfg: Config) -> D:
    """Build a router driver class the way turnout does: its Options validated, then from_options."""
    from turnout.control.local import build_router

    return cast(D, build_router(cfg, cast(Any, cls)))


def runtime_from_config(cls: type[D], cfg: Config) -> D:
    from turnout.control.local import build_runtime

    return cast(D, build_runtime(cfg, cast(Any, cls)))


def check_from_config(cls: type[D], entry: CheckConfig, cfg: Config) -> D:
    """Build a check class for `entry`, one of cfg.checks (errors name `checks[i]` and the line)."""
    from turnout.control.local import build_check

    index = next((i for i, e in enumerate(cfg.checks) if e is entry), 0)
    return cast(D, build_check(cfg, entry, ("checks", index), cast(Any, cls)))
