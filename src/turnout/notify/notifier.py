"""The notifier: every audit event to each [[notify]] target that wants it (in the background), and
the hook executables.

Deliveries never hold a step: `event` queues and returns (delivery.py does the rest and records
every outcome in the delivery log). Hooks (pre-deploy, post-switch, post-rollback) run to
completion; a failing pre-deploy hook stops the deploy, the others are recorded only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from turnout.errors import ConfigError
from turnout.notify.delivery import Dispatcher, Record
from turnout.notify.deliverylog import DeliveryLog
from turnout.notify.targets import Target

log = logging.getLogger("turnout.notify")
HOOKS = ("pre-deploy", "post-switch", "post-rollback")
RECENT = 500  # delivery records kept in memory (the log file has the rest)


class Notifier:
    def __init__(self, targets: Sequence[Target] = (), hooks: Mapping[str, str | list[str]] | None = None,
                 cwd: str = ".", deliveries: DeliveryLog | None = None) -> None:
        self.targets, self.hooks, self.cwd, self.log = list(targets), dict(hooks or {}), cwd, deliveries
        self.dispatchers = [Dispatcher(t, self._recorded) for t in self.targets]
        self.recent: deque[Record] = deque(maxlen=RECENT)
        unknown = sorted(set(self.hooks) - set(HOOKS))
        if unknown:  # a config error like any other: Stack.build adds the file line
            raise ConfigError(f"hooks.{unknown[0]}: unknown hook (known: {', '.join(HOOKS)})")

    def event(self, payload: dict[str, Any]) -> None:
        """Queue the event for every target whose filter it passes; returns at once, never raises."""
        name = str(payload.get("event", ""))
        for dispatcher in self.dispatchers:
            if dispatcher.target.wants(name):
                dispatcher.submit(payload)

    def _recorded(self, record: Record) -> None:
        self.recent.append(record)
        if self.log is not None:
            self.log.append(record.as_dict())

    async def flush(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait (at most `timeout` in all) for queued deliveries; what is still queued then is recorded
        as dropped. The agent calls this when it stops."""
        deadline = asyncio.get_running_loop().time() + timeout
        for dispatcher in self.dispatchers:
            await dispatcher.stop(max(0.0, deadline - asyncio.get_running_loop().time()))

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
