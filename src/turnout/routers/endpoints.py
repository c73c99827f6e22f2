"""Backend addresses as routers need them: host:port parsing, IP literals, readable lists."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence

from turnout.errors import RouterError
from turnout.model import Color, Endpoint


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


def endpoints_text(endpoints: Iterable[Endpoint]) -> str:
    return ", ".join(e.address for e in endpoints) or "(none)"
