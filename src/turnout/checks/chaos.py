"""Seed chaos test: kill one instance of the idle color under traffic; it must recover in budget.

Recovered means both: the killed instance answers its health path again (the runtime restarted
it; `require_restart = false` skips this for runtimes that replace rather than restart), and the
test endpoint has served `settle` seconds without a failure. Recovery time is counted from the
kill to the later of the two; errors still happening `budget` seconds after the kill fail it.

Which instance dies, first match wins:
  1. a `kill` coroutine given to the constructor (Kubernetes: delete a pod; the orchestrator can
     pass one bound to its runtime), returning a description of what it killed;
  2. `target.pids`: the pids in the order of `target.endpoints` (the process runtime knows them:
     EnvStatus.instances[i].pid); the first one gets the signal;
  3. Linux, loopback endpoints: the process listening on the first endpoint's port, found in /proc.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar, Literal, Self

import httpx
from pydantic import Field

from turnout.checks.base import Options, RunsFor, Target, stretched
from turnout.config import CheckConfig, DriverEnv, Duration
from turnout.measure import web
from turnout.measure.http import join
from turnout.measure.loadgen import run_load
from turnout.model import Endpoint, Measurement, Verdict

Killer = Callable[[Target], Awaitable[str]]


class ChaosOptions(Options):
    budget: Duration = 10.0
    settle: Duration = Field(default=1.0, description="error-free traffic that must follow the recovery")
    warmup: Duration = Field(default=0.5, description="traffic before the kill")
    rps: float = Field(default=20, gt=0)
    concurrency: int = Field(default=2, ge=1)
    signal: Literal["KILL", "TERM"] = "KILL"
    require_restart: bool = True
    health_path: str | None = Field(default=None, description="default: [health].path")
    max_error_rate: float | None = Field(default=None, ge=0, le=1, description="over the whole run; None: not judged")


class _Broken(Exception):
    pass


class ChaosCheck(RunsFor):
    kind: ClassVar[str] = "chaos"
    Options = ChaosOptions

    def __init__(self, opts: ChaosOptions | None = None, *, kill: Killer | None = None, name: str = "chaos",
                 path: str = "/", health_path: str = "/health/ready", timeout_s: float | None = None) -> None:
        self.opts = opts or ChaosOptions()
        self.kill, self.name, self.path = kill, name, path
        self.health_path = self.opts.health_path or health_path
        self.timeout = timeout_s or stretched(self._needs())

    def _needs(self) -> float:
        return self.opts.warmup + self.opts.budget + self.opts.settle + 1

    @classmethod
    def from_options(cls, entry: CheckConfig, options: ChaosOptions, env: DriverEnv) -> Self:
        self = super().from_options(entry, options, env)
        self.health_path = options.health_path or env.health.path
        return self

    async def measure(self, target: Target) -> Measurement:
        o = self.opts
        url = join(target.url, self.path)
        failures: list[float] = []
        stop = asyncio.Event()

        def observe(at: float, status: int, color: str | None, error: str | None) -> None:
            if error is not None or not 200 <= status < 300:
                failures.append(at)

        load = asyncio.ensure_future(run_load(url, concurrency=o.concurrency, duration=self._needs() + o.budget,
                                              rps=o.rps, stop=stop, timeout=min(2.0, o.budget), observer=observe))
        try:
            await asyncio.sleep(o.warmup)
            if load.done() or failures:
                stop.set()
                result = await load
                why = "cannot reach it" if result.unreachable else f"{len(failures)} failures before any kill"
                return Measurement(self.name, Verdict.ERROR, None, f"{url} is not healthy to start with: {why}")
            try:
                victim, endpoint = await self._kill(target)
            except _Broken as exc:
                return Measurement(self.name, Verdict.ERROR, None, str(exc))
            killed_at = time.time()
            restarted_at = await self._wait_recovery(killed_at, endpoint, failures)
        finally:
            stop.set()
            result = await load
        last_failure = max((t for t in failures if t >= killed_at), default=None)
        recovered = max(restarted_at or killed_at, last_failure or killed_at) - killed_at
        data = {"victim": victim, "load": result.as_dict(), "failures_after_kill": len(failures),
                "restart_s": None if restarted_at is None else round(restarted_at - killed_at, 3),
                "last_failure_s": None if last_failure is None else round(last_failure - killed_at, 3)}
        problems = []
        if o.require_restart and endpoint is not None and restarted_at is None:
            problems.append(f"{endpoint.address} did not answer {self.health_path} within {o.budget:g}s")
        if last_failure is not None and last_failure - killed_at > o.budget:
            problems.append(f"requests still failed {last_failure - killed_at:.1f}s after the kill")
        if o.max_error_rate is not None and result.error_rate > o.max_error_rate:
            problems.append(f"error rate {result.error_rate:.2%} over the run > {o.max_error_rate:.2%}")
        shape = (f"killed {victim}; {len(failures)} failed of {result.requests} requests, "
                 f"recovered in {recovered:.2f}s (budget {o.budget:g}s)")
        if problems:
            return Measurement(self.name, Verdict.FAIL, round(recovered, 3), "; ".join(problems) + f" [{shape}]", data)
        return Measurement(self.name, Verdict.PASS, round(recovered, 3), shape, data)

    async def _kill(self, target: Target) -> tuple[str, Endpoint | None]:
        endpoint = target.endpoints[0] if target.endpoints else None
        if self.kill is not None:
            return await self.kill(target), endpoint
        pids: list[int] = list(target.pids[:1])
        if pids:
            pass
        elif endpoint is not None and endpoint.host.startswith("127."):
            pids = pids_listening(endpoint.port)
        if not pids:
            raise _Broken("no instance to kill: give the check a kill function, target.pids, "
                          "or loopback endpoints whose processes are visible in /proc")
        sig = signal.SIGKILL if self.opts.signal == "KILL" else signal.SIGTERM
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError as exc:
                raise _Broken(f"cannot signal pid {pid}: {exc.strerror}") from None
        where = f" ({endpoint.address})" if endpoint else ""
        return f"pid {','.join(map(str, pids))}{where} with SIG{self.opts.signal}", endpoint

    async def _wait_recovery(self, killed_at: float, endpoint: Endpoint | None, failures: list[float]) -> float | None:
        """When the killed instance answered its health path again (None if never); returns once
        traffic has been clean for `settle` seconds after that, or the budget ran out."""
        o = self.opts
        restarted_at = None if (o.require_restart and endpoint is not None) else killed_at
        deadline = killed_at + o.budget + o.settle
        async with web.async_client(timeout=0.5) as client:
            while (now := time.time()) < deadline:
                if restarted_at is None and endpoint is not None:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(join(endpoint.url, self.health_path))).is_success:
                            restarted_at = time.time()
                last = max((t for t in failures if t >= killed_at), default=killed_at)
                if restarted_at is not None and now - max(restarted_at, last) >= o.settle:
                    break
                await asyncio.sleep(0.05)
        return None if restarted_at is None or restarted_at - killed_at > o.budget else restarted_at


def pids_listening(port: int) -> list[int]:
    """Pids of the processes holding the listening TCP socket on `port` (Linux /proc)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(cols[9])  # state 0A: LISTEN
    if not inodes:
        return []
    wanted = {f"socket:[{i}]" for i in inodes}
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in wanted for fd in (proc / "fd").iterdir()):
                pids.append(int(proc.name))
    return sorted(pids)
