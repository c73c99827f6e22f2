"""Readiness through the test endpoint: N consecutive 2xx answers within a deadline."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Self

import httpx

from turnout.checks.base import Target, stretched
from turnout.config import CheckConfig, DriverEnv, HealthConfig, NoOptions
from turnout.measure import web
from turnout.model import Measurement, Verdict


class ReadinessCheck:
    kind: ClassVar[str] = "readiness"
    Options = NoOptions

    def __init__(self, health: HealthConfig, name: str = "readiness") -> None:
        self.name = name
        self.health = health
        self.timeout = stretched(health.deadline)

    @classmethod
    def from_options(cls, entry: CheckConfig, options: NoOptions, env: DriverEnv) -> Self:
        health = env.health.model_copy(update={"path": entry.path}) if entry.path else env.health
        return cls(health, entry.label)

    async def measure(self, target: Target) -> Measurement:
        h = self.health
        url = target.url.rstrip("/") + h.path
        streak, attempts, last = 0, 0, ""
        start = time.monotonic()
        async with web.async_client(timeout=h.timeout) as client:
            while time.monotonic() - start < h.deadline:
                attempts += 1
                try:
                    resp = await client.get(url)
                    ok = 200 <= resp.status_code < 300
                    last = f"HTTP {resp.status_code}"
                except httpx.HTTPError as exc:
                    ok, last = False, f"{type(exc).__name__}: {exc}"
                streak = streak + 1 if ok else 0
                if streak >= h.successes:
                    elapsed = time.monotonic() - start
                    return Measurement(self.name, Verdict.PASS, round(elapsed, 3),
                                       f"{h.successes} consecutive 2xx from {url} in {elapsed:.2f}s")
                await asyncio.sleep(h.interval)
        return Measurement(self.name, Verdict.FAIL, streak,
                           f"{url} not ready: {streak}/{h.successes} consecutive successes after {attempts} "
                           f"attempts in {h.deadline:.0f}s (last: {last})", {"attempts": attempts, "last": last})
