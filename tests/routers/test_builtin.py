"""The builtin proxy (`python -m turnout.proxy`) through BuiltinRouter: the same router contract."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from turnout.config import Config
from turnout.model import Color, Weights
from turnout.routers.builtin import BuiltinRouter
from turnout.testing import ColorBackends, RouterContract


async def _reap(router: BuiltinRouter) -> None:
    # BuiltinRouter.release() polls os.kill(pid, 0), which a zombie child passes until its deadline
    # (drain + 5 s each time). Reaping the proxy here lets release() see it gone; drop this once the
    # driver waits on its own child.
    while True:
        with contextlib.suppress(ChildProcessError, ValueError, OSError):
            os.waitpid(int(router.pid_file.read_text()), os.WNOHANG)
        await asyncio.sleep(0.01)


class TestBuiltinContract(RouterContract):
    router_class = BuiltinRouter

    @pytest_asyncio.fixture
    async def router(self, config: Config, backends: ColorBackends) -> AsyncIterator[Any]:
        router = BuiltinRouter.from_config(config)
        reaper = asyncio.create_task(_reap(router))
        try:
            await router.prepare(backends.endpoints)
            await router.route(Weights.all_to(Color.BLUE))
            yield router
        finally:
            await router.release()
            reaper.cancel()

    async def crash(self, router: Any) -> None:
        os.kill(int(router.pid_file.read_text()), signal.SIGKILL)
        for _ in range(250):
            if not await router.alive():
                return
            await asyncio.sleep(0.02)
