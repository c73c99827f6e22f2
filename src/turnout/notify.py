"""Notifications: a JSON event to every webhook on each phase change, and hook executables.

Webhooks are fire-and-forget with a short timeout and one retry: a slow receiver must never hold a
switch or a rollback. Hooks (pre-deploy, post-switch, post-rollback) run to completion; a failing
pre-deploy hook stops the deploy, the others are recorded only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from turnout.errors import ConfigError
from turnout.measure import web

log = logging.getLogger("turnout.notify")
HOOKS = ("pre-deploy", "post-switch", "post-rollback")


class Notifier:
    def __init__(self, webhooks: Sequence[str], hooks: Mapping[str, str | list[str]], cwd: str,
                 timeout: float = 3.0) -> None:
        self.webhooks, self.hooks, self.cwd, self.timeout = list(webhooks), dict(hooks), cwd, timeout
        self._pending: set[asyncio.Task[None]] = set()
        unknown = sorted(set(self.hooks) - set(HOOKS))
        if unknown:  # a config error like any other: Stack.build adds the file line
            raise ConfigError(f"hooks.{unknown[0]}: unknown hook (known: {', '.join(HOOKS)})")

    def event(self, payload: dict[str, Any]) -> None:
        """Queue the event for every webhook without waiting."""
        for url in self.webhooks:
            task = asyncio.get_running_loop().create_task(self._post(url, payload))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _post(self, url: str, payload: dict[str, Any]) -> None:
        for attempt in range(2):
            try:
                async with web.async_client(timeout=self.timeout) as client:
                    resp = await client.post(url, json=payload)
                if resp.status_code < 500:
                    return
            except httpx.HTTPError as exc:
                log.warning("webhook %s failed (attempt %d): %s", url, attempt + 1, exc)
            await asyncio.sleep(0.2)

    async def flush(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        if self._pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*self._pending, return_exceptions=True), timeout)

    async def hook(self, name: str, env: Mapping[str, str],
                   timeout: float = 300.0) -> tuple[int, str] | None:  # noqa: ASYNC109
        """Run a hook if configured; return (exit code, output tail)."""
        command = self.hooks.get(name)
        if command is None:
            return None
        argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=self.cwd, env={**os.environ, **env}, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        except OSError as exc:
            return 127, f"cannot run {shlex.join(argv)}: {exc}"
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return -1, f"{name} hook ran over {timeout:.0f}s"
        return proc.returncode or 0, " | ".join(out.decode(errors="replace").strip().splitlines()[-5:])
