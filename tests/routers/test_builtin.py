"""The builtin proxy (`python -m turnout.proxy`) through BuiltinRouter: the same router contract."""

from __future__ import annotations

from turnout.routers.builtin import BuiltinRouter
from turnout.testing.contracts import RouterTrafficContract


class TestBuiltinContract(RouterTrafficContract):
    router_class = BuiltinRouter
