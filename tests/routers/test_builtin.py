"""The builtin proxy (`python -m turnout.proxy`) through BuiltinRouter: the same router contract."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from turnout.routers.builtin import BuiltinRouter
from turnout.testing.contracts import RouterContract


class TestBuiltinContract(RouterContract):
    router_class = BuiltinRouter

    async def crash(self, router: Any) -> None:
        os.kill(int(router.pid_file.read_text()), signal.SIGKILL)
        for _ in range(250):
            if not await router.alive():
                return
            await asyncio.sleep(0.02)
