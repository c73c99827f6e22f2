"""A smoke-test command: exit code 0 passes. Gets the test URL as {test_url} and TURNOUT_TEST_URL."""

from __future__ import annotations

import asyncio
import os
import shlex
import time
from typing import ClassVar, Self

from turnout.checks.base import Target
from turnout.config import CheckConfig, DriverEnv, NoOptions, templates
from turnout.errors import ConfigError
from turnout.model import Measurement, Verdict


class CommandCheck:
    kind: ClassVar[str] = "smoke"
    Options = NoOptions

    def __init__(self, command: str | list[str], timeout: float, cwd: str, name: str = "smoke") -> None:
        self.name, self.command, self.timeout, self.cwd = name, command, timeout, cwd

    @classmethod
    def from_options(cls, entry: CheckConfig, options: NoOptions, env: DriverEnv) -> Self:
        if not entry.command:
            raise ConfigError(f"field required for a {entry.kind} check", key=("command",))
        return cls(entry.command, entry.timeout, str(env.base_dir), entry.label)

    def _argv(self, target: Target) -> list[str]:
        values = {"test_url": target.url, "production_url": target.baseline_url,
                  "version": target.release.version, "color": target.color.value}
        if isinstance(self.command, str):
            # A string runs through the shell, like a line in a CI script.
            return ["/bin/sh", "-c", templates.fill(self.command, values)]
        return [templates.fill(part, values) for part in self.command]

    async def measure(self, target: Target) -> Measurement:
        env = {**os.environ, "TURNOUT_TEST_URL": target.url, "TURNOUT_PRODUCTION_URL": target.baseline_url,
               "TURNOUT_VERSION": target.release.version, "TURNOUT_COLOR": target.color.value}
        argv = self._argv(target)  # placeholders were checked with the config
        start = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=self.cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            return Measurement(self.name, Verdict.ERROR, None, f"cannot run {shlex.join(argv)}: {exc}")
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self.timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return Measurement(self.name, Verdict.FAIL, "timeout", f"{shlex.join(argv)} ran over {self.timeout:.0f}s")
        elapsed = round(time.monotonic() - start, 3)
        tail = " | ".join(out.decode(errors="replace").strip().splitlines()[-5:])
        if proc.returncode == 0:
            return Measurement(self.name, Verdict.PASS, 0, f"exit 0 in {elapsed}s", {"seconds": elapsed})
        return Measurement(self.name, Verdict.FAIL, proc.returncode,
                           f"{shlex.join(argv)} exited {proc.returncode}: {tail}", {"seconds": elapsed})
