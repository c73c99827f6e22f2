"""HAProxy driver: the router contract (owned and attached), plus reload persistence and config checks."""

from __future__ import annotations

from turnout.routers.haproxy import HAProxyRouter
from turnout.testing import RouterContract


class TestHAProxyContract(RouterContract):
    router_class = HAProxyRouter
