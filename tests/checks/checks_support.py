"""Targets and configs for check tests."""

from __future__ import annotations

from typing import Any

from turnout import config
from turnout.config import CheckConfig, Config
from turnout.model import Color, Endpoint, Release
from turnout.protocols import Target


def target_for(app: Any, baseline: Any = None, *, endpoints: bool = True, **extra: str) -> Target:
    return Target(url=app.url, color=Color.GREEN, release=Release("v2"),
                  baseline_url=baseline.url if baseline is not None else "",
                  endpoints=(Endpoint("127.0.0.1", app.port),) if endpoints else (), extra=dict(extra))


def check_config(toml_entry: str) -> tuple[CheckConfig, Config]:
    """The first [[checks]] entry of a minimal turnout.toml, and the whole config."""
    cfg = config.parse(f'[app]\nname = "t"\n\n[[checks]]\n{toml_entry}\n')
    return cfg.checks[0], cfg


def target_at(url: str) -> Target:
    """A target at a bare URL (e.g. one nobody listens on), without instances."""
    return Target(url=url, color=Color.GREEN, release=Release("v2"))
