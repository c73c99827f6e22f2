"""nginx driver: the router contract on Debian's nginx with the Lua module."""

from __future__ import annotations

from turnout.routers.nginx import NginxRouter
from turnout.testing import RouterContract


class TestNginxContract(RouterContract):
    router_class = NginxRouter
