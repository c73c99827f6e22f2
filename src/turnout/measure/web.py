"""httpx clients that share one TLS context. httpx builds a new SSLContext (and loads the CA
bundle into it) for every client it creates: 10-20 ms of CPU each, which a status read or a
switch that probes instances paid several times over."""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls() -> ssl.SSLContext:
    """The process's one client TLS context, made on first use."""
    return httpx.create_ssl_context()


def async_client(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=tls(), **kwargs)


def transport(**kwargs: Any) -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(verify=tls(), **kwargs)
