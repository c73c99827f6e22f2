"""The test endpoint must report the version being deployed, from every instance behind it."""

from __future__ import annotations

from typing import ClassVar, Self

import httpx

from turnout.checks.base import Target
from turnout.config import CheckConfig, DriverEnv, NoOptions
from turnout.measure import web
from turnout.model import Measurement, Verdict


class VersionCheck:
    kind: ClassVar[str] = "version"
    Options = NoOptions

    def __init__(self, path: str, field: str = "version", timeout: float = 2.0, name: str = "version") -> None:
        self.name, self.path, self.field, self.timeout = name, path, field, timeout

    @classmethod
    def from_options(cls, entry: CheckConfig, options: NoOptions, env: DriverEnv) -> Self:
        return cls(entry.path or env.health.version_path, env.health.version_field, env.health.timeout, entry.label)

    async def measure(self, target: Target) -> Measurement:
        url = target.url.rstrip("/") + self.path
        expected = target.release.version
        # Round-robin behind the router: ask enough times to reach every instance at least twice.
        rounds = max(4, 2 * len(target.endpoints))
        seen: dict[str, int] = {}
        try:
            async with web.async_client(timeout=self.timeout) as client:
                for _ in range(rounds):
                    resp = await client.get(url)
                    if resp.status_code != 200:
                        return Measurement(self.name, Verdict.FAIL, f"HTTP {resp.status_code}",
                                           f"{url} answered HTTP {resp.status_code}")
                    body = resp.json()
                    got = str(body.get(self.field)) if isinstance(body, dict) else str(body)
                    seen[got] = seen.get(got, 0) + 1
        except httpx.HTTPError as exc:
            return Measurement(self.name, Verdict.ERROR, None, f"{url} unreachable: {exc or type(exc).__name__}")
        except ValueError:
            return Measurement(self.name, Verdict.ERROR, None, f"{url} did not answer JSON")
        wrong = {v: n for v, n in seen.items() if v != expected}
        if wrong:
            return Measurement(self.name, Verdict.FAIL, ", ".join(sorted(wrong)),
                               f"version mismatch at {url}: expected {expected}, got {wrong}", {"seen": seen})
        return Measurement(self.name, Verdict.PASS, expected, f"{rounds} answers all report {expected}")
