"""The pre-switch gate: runs checks on a schedule and judges them; checks only measure (Argo's split).

`run_gate` runs each check `count` times, `interval` apart, and `assess` judges the series with
Argo's limits: more than `failure_limit` FAILs fails it, more than `inconclusive_limit`
INCONCLUSIVEs makes it inconclusive, more than `consecutive_error_limit` ERRORs in a row makes it
an error (a broken check, not a bad release: an ERROR is retried and does not use up `count`), and
`consecutive_success_limit` PASSes in a row pass it early.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from turnout.checks.base import Check, Target
from turnout.config import AnalysisConfig, Policy
from turnout.model import Measurement, Verdict

log = logging.getLogger(__name__)
DEFAULT_CHECK_TIMEOUT = 600.0


# -- policy and the pure judge ---------------------------------------------------------------------------

def _trailing(ms: Sequence[Measurement], verdict: Verdict) -> int:
    n = 0
    for m in reversed(ms):
        if m.verdict is not verdict:
            break
        n += 1
    return n


def progress(ms: Sequence[Measurement], policy: Policy) -> Verdict | None:
    """A verdict as soon as the series is decided, else None (keep measuring)."""
    fails = sum(m.verdict is Verdict.FAIL for m in ms)
    inconclusive = sum(m.verdict is Verdict.INCONCLUSIVE for m in ms)
    if policy.failure_limit >= 0 and fails > policy.failure_limit:
        return Verdict.FAIL
    if policy.consecutive_error_limit >= 0 and _trailing(ms, Verdict.ERROR) > policy.consecutive_error_limit:
        return Verdict.ERROR
    if policy.inconclusive_limit >= 0 and inconclusive > policy.inconclusive_limit:
        return Verdict.INCONCLUSIVE
    if policy.consecutive_success_limit and _trailing(ms, Verdict.PASS) >= policy.consecutive_success_limit:
        return Verdict.PASS
    return None


def done(ms: Sequence[Measurement], policy: Policy) -> bool:
    """Whether `count` measurements were taken; errors do not count (they are retried)."""
    return sum(m.verdict is not Verdict.ERROR for m in ms) >= policy.count


def assess(ms: Sequence[Measurement], policy: Policy) -> Verdict:
    """The verdict on a finished series. Unlike Argo, a series without a single PASS never
    passes: all-inconclusive stays INCONCLUSIVE, all-error stays ERROR (Kayenta's nodata rule)."""
    decided = progress(ms, policy)
    if decided is not None:
        return decided
    if any(m.verdict is Verdict.PASS for m in ms):
        return Verdict.PASS
    if any(m.verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE) for m in ms):
        return Verdict.INCONCLUSIVE
    return Verdict.ERROR if ms else Verdict.INCONCLUSIVE


# -- the pre-switch gate ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    measurements: list[Measurement]
    failed_check: str | None = None
    reason: str = ""


async def measure_once(check: Check, target: Target, timeout_s: float) -> Measurement:
    """One measurement; a check that overruns or crashes is an ERROR measurement, not a crash."""
    try:
        async with asyncio.timeout(timeout_s):
            return await check.measure(target)
    except TimeoutError:
        return Measurement(check.name, Verdict.ERROR, None, f"no result within {timeout_s:g}s")
    except Exception as exc:  # a bug in one check must not take the deploy down with it
        log.exception("check %s crashed", check.name)
        return Measurement(check.name, Verdict.ERROR, None, f"check crashed: {type(exc).__name__}: {exc}")


async def run_gate(checks: Sequence[Check], target: Target, policy: Policy | AnalysisConfig,
                   on_measurement: Callable[[Measurement], None] | None = None) -> GateResult:
    """Run the checks in order, each per its policy; stop at the first that does not pass."""
    every: list[Measurement] = []
    for check in checks:
        p = policy.policy_for(check.name) if isinstance(policy, AnalysisConfig) else policy
        limit = p.timeout or float(getattr(check, "timeout", 0) or DEFAULT_CHECK_TIMEOUT)
        if p.initial_delay:
            await asyncio.sleep(p.initial_delay)
        series: list[Measurement] = []
        while True:
            m = await measure_once(check, target, limit)
            series.append(m)
            every.append(m)
            if on_measurement is not None:
                on_measurement(m)
            verdict = progress(series, p)
            if verdict is None and done(series, p):
                verdict = assess(series, p)
            if verdict is not None:
                break
            # an ERROR is retried soon; a regular measurement waits the interval
            await asyncio.sleep(p.interval if m.verdict is not Verdict.ERROR or p.interval else 0.25)
        if verdict is not Verdict.PASS:
            return GateResult(verdict, every, check.name, _reason(check.name, verdict, series, p))
    return GateResult(Verdict.PASS, every, None, f"{len(checks)} checks passed ({len(every)} measurements)")


def _reason(name: str, verdict: Verdict, series: Sequence[Measurement], p: Policy) -> str:
    last = next((m for m in reversed(series) if m.verdict is verdict), series[-1])
    if len(series) == 1:
        return f"{name} {verdict.value}: {last.detail}"
    tally = ", ".join(f"{sum(m.verdict is v for m in series)} {v.value}" for v in Verdict
                      if any(m.verdict is v for m in series))
    return (f"{name} {verdict.value} after {len(series)} measurements ({tally}; failure_limit {p.failure_limit}, "
            f"inconclusive_limit {p.inconclusive_limit}): {last.detail}")
