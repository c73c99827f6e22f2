"""Seed step 5: every dependency the new release reports (or the listed ones) is healthy.

Reads `GET /health/dependencies`: a JSON object of name -> {"status": "healthy", "detail": ...}
(a bare status string is accepted too). Each instance is asked directly when the target lists
them, because each one holds its own connections; otherwise the test endpoint is asked.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import Field

from turnout.checks.base import Options, Target
from turnout.config import CheckConfig, DriverEnv
from turnout.measure import web
from turnout.measure.http import Unreachable, get_json, instance_urls, join
from turnout.model import Measurement, Verdict


class DependenciesOptions(Options):
    require: list[str] = Field(default=[], description="empty: every dependency reported must be healthy")
    healthy: list[str] = Field(default=["healthy"], description="status values that count as healthy")


class DependenciesCheck:
    kind: ClassVar[str] = "dependencies"
    Options = DependenciesOptions

    def __init__(self, name: str = "dependencies", path: str = "/health/dependencies",
                 require: tuple[str, ...] = (), healthy: tuple[str, ...] = ("healthy",),
                 timeout_s: float = 5.0, *, timeout: float = 60.0) -> None:
        self.name, self.path, self.require, self.healthy, self.timeout_s = name, path, require, healthy, timeout_s
        self.timeout = timeout

    @classmethod
    def from_options(cls, entry: CheckConfig, options: DependenciesOptions, env: DriverEnv) -> Self:
        return cls(entry.label, entry.path or "/health/dependencies", tuple(options.require), tuple(options.healthy),
                   min(env.health.timeout * 2.5, entry.timeout), timeout=entry.timeout)

    async def measure(self, target: Target) -> Measurement:
        bad: dict[str, list[str]] = {}  # dependency -> what is wrong, per instance
        seen: dict[str, dict[str, Any]] = {}
        async with web.async_client(timeout=self.timeout_s) as client:
            for base in instance_urls(target.url, target.endpoints):
                url = join(base, self.path)
                try:
                    status, body = await get_json(client, url)
                except Unreachable as exc:
                    if exc.status is not None and exc.status >= 500:  # it answered, and not well
                        return Measurement(self.name, Verdict.FAIL, None, str(exc))
                    return Measurement(self.name, Verdict.ERROR, None, str(exc))
                if status == 404 or not isinstance(body, dict):
                    what = "HTTP 404 (wrong path?)" if status == 404 else f"expected a JSON object, got {body!r:.80}"
                    return Measurement(self.name, Verdict.ERROR, None, f"{url}: {what}")
                seen[base] = body
                for dep in self.require or tuple(body):
                    problem = self._problem(body.get(dep))
                    if problem:
                        bad.setdefault(dep, []).append(f"{problem} at {base}")
        names = sorted({d for b in seen.values() for d in b} | set(self.require))
        if bad:
            text = "; ".join(f"{dep}: {', '.join(why)}" for dep, why in sorted(bad.items()))
            return Measurement(self.name, Verdict.FAIL, len(bad), f"unhealthy dependencies: {text}",
                               {"dependencies": seen})
        detail = f"{', '.join(names)} healthy on {len(seen)} instance(s)" if names else "no dependencies reported"
        return Measurement(self.name, Verdict.PASS, 0, detail, {"dependencies": seen})

    def _problem(self, entry: Any) -> str:
        if entry is None:
            return "not reported"
        status = entry.get("status") if isinstance(entry, dict) else entry
        if status in self.healthy:
            return ""
        extra = entry.get("detail") if isinstance(entry, dict) else None
        return f"status {status!r}" + (f" ({extra})" if extra else "")
