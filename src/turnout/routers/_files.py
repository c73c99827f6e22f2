"""Helpers the router drivers share: atomic files, option validation, endpoint resolution."""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from turnout.config import parse_options as config_parse_options
from turnout.errors import ConfigError, RouterError
from turnout.model import Color, Endpoint

M = TypeVar("M", bound=BaseModel)


def atomic_write(path: Path, text: str) -> None:
    """Write next to the target, then rename: a reader (HAProxy, Envoy's inotify) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def parse_options(model: type[M], options: Mapping[str, Any]) -> M:
    """Validate a driver's `router.options`; every problem names its key."""
    return config_parse_options(model, options, "router.options")


def split_hostport(text: str, key: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"{key}: expected host:port, got {text!r}")
    return host or "127.0.0.1", int(port)


def resolve(endpoint: Endpoint) -> Endpoint:
    """Routers need IP literals (HAProxy `set server addr`, Envoy EDS, the nginx balancer): resolve names once."""
    try:
        socket.inet_pton(socket.AF_INET, endpoint.host)
        return endpoint
    except OSError:
        pass
    try:
        infos = socket.getaddrinfo(endpoint.host, endpoint.port, socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        raise RouterError(f"cannot resolve backend {endpoint.address}: {exc}") from None
    return Endpoint(str(infos[0][4][0]), endpoint.port)


def resolve_all(backends: Mapping[Color, Sequence[Endpoint]]) -> dict[Color, tuple[Endpoint, ...]]:
    """Only the colors given: `prepare({green: [...]})` changes green and leaves blue as it is."""
    return {Color(color): tuple(dict.fromkeys(resolve(e) for e in eps)) for color, eps in backends.items()}


def tail(path: Path, lines: int = 15) -> str:
    """The end of a router's log, for error messages that say why it would not start."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def endpoints_text(endpoints: Iterable[Endpoint]) -> str:
    return ", ".join(e.address for e in endpoints) or "(none)"


def short_socket_path(path: Path) -> str:
    """Unix socket paths are limited to ~107 bytes; a deep state folder gets a stable one in /tmp instead."""
    if len(str(path)) < 100:
        return str(path)
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return str(Path(tempfile.gettempdir()) / f"turnout-{digest}-{path.name}")
