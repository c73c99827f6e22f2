"""Drivers found by name through entry points; turnout's own are registered the same way."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from turnout.errors import ConfigError

# Fallback when the package metadata is not installed (running from a source tree).
BUILTIN: dict[str, dict[str, str]] = {
    "turnout.routers": {
        "builtin": "turnout.routers.builtin:BuiltinRouter",
        "haproxy": "turnout.routers.haproxy:HAProxyRouter",
        "envoy": "turnout.routers.envoy:EnvoyRouter",
        "nginx": "turnout.routers.nginx:NginxRouter",
        "kubernetes": "turnout.routers.kubernetes:KubernetesRouter",
        "aws_alb": "turnout.routers.aws_alb:ALBRouter",
    },
    "turnout.runtimes": {
        "process": "turnout.runtimes.process:ProcessRuntime",
        "static": "turnout.runtimes.static:StaticRuntime",
        "kubernetes": "turnout.runtimes.kubernetes:KubernetesRuntime",
    },
    "turnout.checks": {
        "readiness": "turnout.checks.readiness:ReadinessCheck",
        "version": "turnout.checks.version:VersionCheck",
        "smoke": "turnout.checks.command:CommandCheck",
        "command": "turnout.checks.command:CommandCheck",
        "sessions": "turnout.checks.sessions:SessionCompatCheck",
    },
}


def names(group: str) -> list[str]:
    found = {ep.name for ep in entry_points(group=group)}
    return sorted(found | set(BUILTIN.get(group, {})))


def load(group: str, name: str, *, key: str) -> Any:
    """The driver class registered as `name` in `group`; `key` is the config path, for the error."""
    for ep in entry_points(group=group):
        if ep.name == name:
            return ep.load()
    target = BUILTIN.get(group, {}).get(name)
    if target is None:
        raise ConfigError(f"{key}: unknown {group.rsplit('.', 1)[-1][:-1]} {name!r} (known: {', '.join(names(group))})")
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{key}: {name!r} is not available: {exc}") from None
