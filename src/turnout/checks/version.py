"""The test endpoint must report the version being deployed, from every instance behind it.

Where: a JSON field of `[health] version_path` (dotted for a nested one, as Spring Boot's
`/actuator/info` has `build.version`), or its whole plain-text body when `version_field = ""`."""

from __future__ import annotations

from typing import ClassVar, Self

import httpx

from turnout.checks.base import Target
from turnout.config import CheckConfig, DriverEnv, NoOptions
from turnout.errors import ConfigError
from turnout.measure import web
from turnout.model import Measurement, Verdict


class VersionCheck:
    kind: ClassVar[str] = "version"
    Options = NoOptions

    def __init__(self, path: str, field: str = "version", timeout: float = 2.0, name: str = "version") -> None:
        self.name, self.path, self.field, self.timeout = name, path, field, timeout

    @classmethod
    def from_options(cls, entry: CheckConfig, options: NoOptions, env: DriverEnv) -> Self:
        path = entry.path or env.health.version_path
        if not path:
            raise ConfigError("a version check needs a path: set its `path` or [health] version_path",
                              key=("path",))
        return cls(path, env.health.version_field, env.health.timeout, entry.label)

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
                    got = resp.text.strip() if not self.field else _field(resp.json(), self.field)
                    seen[got] = seen.get(got, 0) + 1
        except httpx.HTTPError as exc:
            return Measurement(self.name, Verdict.ERROR, None, f"{url} unreachable: {exc or type(exc).__name__}")
        except ValueError:
            return Measurement(self.name, Verdict.ERROR, None,
                               f"{url} did not answer JSON (set [health] version_field = \"\" for a plain-text "
                               f"version, or version_path = \"\" to check no version)")
        wrong = {v: n for v, n in seen.items() if v != expected}
        if wrong:
            return Measurement(self.name, Verdict.FAIL, ", ".join(sorted(wrong)),
                               f"version mismatch at {url}: expected {expected}, got {wrong}", {"seen": seen})
        return Measurement(self.name, Verdict.PASS, expected, f"{rounds} answers all report {expected}")


def _field(body: object, dotted: str) -> str:
    """`build.version` of {"build": {"version": "2.0"}}; a missing field reads as "(no <field>)"."""
    for key in dotted.split("."):
        if not isinstance(body, dict) or key not in body:
            return f"(no {dotted})"
        body = body[key]
    return str(body)
