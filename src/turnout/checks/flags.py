"""Seed step 6: record the new release's feature flags (and how they differ from the live color's).

Always PASS, so the flags land in the audit log with the deploy, unless the endpoint cannot be
read (ERROR) or an `expect` table is given and a flag differs from it (FAIL):

    [[checks]]
    kind = "feature_flags"
    expect = { new_checkout = false }
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from turnout.checks.base import Options, Target
from turnout.config import CheckConfig, DriverEnv
from turnout.measure import web
from turnout.measure.http import Unreachable, get_json, join
from turnout.model import Measurement, Verdict

_MISSING = object()


class FlagsOptions(Options):
    expect: dict[str, Any] = {}


class FeatureFlagsCheck:
    kind: ClassVar[str] = "feature_flags"
    Options = FlagsOptions

    def __init__(self, name: str = "feature_flags", path: str = "/debug/feature-flags",
                 expect: dict[str, Any] | None = None, timeout_s: float = 5.0, *, timeout: float = 60.0) -> None:
        self.name, self.path, self.expect, self.timeout_s = name, path, dict(expect or {}), timeout_s
        self.timeout = timeout

    @classmethod
    def from_options(cls, entry: CheckConfig, options: FlagsOptions, env: DriverEnv) -> Self:
        return cls(entry.label, entry.path or "/debug/feature-flags", options.expect,
                   min(env.health.timeout * 2.5, entry.timeout), timeout=entry.timeout)

    async def measure(self, target: Target) -> Measurement:
        url = join(target.url, self.path)
        async with web.async_client(timeout=self.timeout_s) as client:
            try:
                status, flags = await get_json(client, url)
            except Unreachable as exc:
                return Measurement(self.name, Verdict.ERROR, None, str(exc))
            if status != 200 or not isinstance(flags, dict):
                return Measurement(self.name, Verdict.ERROR, None, f"{url}: HTTP {status}, expected a JSON object")
            live: dict[str, Any] | None = None
            if target.baseline_url:  # only for the record: a failure to read the live flags changes nothing
                try:
                    _, body = await get_json(client, join(target.baseline_url, self.path))
                    live = body if isinstance(body, dict) else None
                except Unreachable:
                    live = None
        data: dict[str, Any] = {"flags": flags}
        notes = []
        if live is not None:
            changed = sorted(k for k in flags.keys() | live.keys() if flags.get(k, _MISSING) != live.get(k, _MISSING))
            data["live_flags"] = live
            data["changed"] = changed
            notes.append(f"changed vs live: {', '.join(changed)}" if changed else "same as live")
        wrong = {k: flags.get(k, "<missing>") for k, v in self.expect.items() if flags.get(k, _MISSING) != v}
        if wrong:
            text = ", ".join(f"{k}={got!r} (expected {self.expect[k]!r})" for k, got in sorted(wrong.items()))
            return Measurement(self.name, Verdict.FAIL, len(wrong), f"unexpected feature flags: {text}", data)
        on = sorted(k for k, v in flags.items() if v is True)
        summary = f"{len(flags)} flags, on: {', '.join(on) or 'none'}"
        return Measurement(self.name, Verdict.PASS, len(flags), "; ".join([summary, *notes]), data)
