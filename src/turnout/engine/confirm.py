"""Gates: points where an operation goes on only when told to (Flagger's confirm-rollout,
confirm-traffic-increase and confirm-promotion webhooks, and a person's approval).

A webhook gate POSTs a JSON description of the step and opens on a 2xx answer; any other answer,
or no connection, keeps it closed. An approval gate waits for `turnout approve`. Both give up
after `timeout`, and then `on_timeout` decides: "halt" (closed) or "continue" (open). Every
decision becomes a measurement in the audit log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from turnout.config import GateConfig
from turnout.measure import web
from turnout.model import Measurement, Verdict


class Approvals:
    """The approval a running operation may wait for; `approve()` comes from a command."""

    def __init__(self) -> None:
        self._given = asyncio.Event()
        self.by, self.reason = "", ""

    def approve(self, actor: str, reason: str) -> None:
        self.by, self.reason = actor, reason
        self._given.set()

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109 - the gate's own budget
        try:
            async with asyncio.timeout(timeout):
                await self._given.wait()
        except TimeoutError:
            return False
        self._given.clear()  # one approval opens one gate
        return True


@dataclass(frozen=True)
class GateResult:
    open: bool
    measurement: Measurement

    @property
    def reason(self) -> str:
        return self.measurement.detail


def name(gate: GateConfig) -> str:
    return f"gate {gate.point} ({'approval' if gate.approval else gate.url})"


async def _webhook(gate: GateConfig, payload: dict[str, Any]) -> tuple[bool | None, int | None, str]:
    """(open?, status, detail); open None on a timeout."""
    assert gate.url is not None
    try:
        async with web.async_client(timeout=gate.timeout) as client:
            resp = await client.post(gate.url, json=payload)
    except httpx.TimeoutException:
        return None, None, f"no answer within {gate.timeout:g}s"
    except httpx.HTTPError as exc:
        return False, None, f"unreachable: {exc or type(exc).__name__}"
    body = resp.text.strip().replace("\n", " ")[:200]
    return 200 <= resp.status_code < 300, resp.status_code, f"HTTP {resp.status_code}" + (f": {body}" if body else "")


async def check(gate: GateConfig, payload: dict[str, Any], approvals: Approvals | None) -> GateResult:
    started = time.monotonic()
    status: int | None = None
    if gate.approval:
        given = approvals is not None and await approvals.wait(gate.timeout)
        opened: bool | None = True if given else None
        detail = f"approved by {approvals.by}" + (f": {approvals.reason}" if approvals.reason else "") \
            if given and approvals else f"no approval within {gate.timeout:g}s"
    else:
        opened, status, detail = await _webhook(gate, payload)
    if opened is None:  # the timeout: on_timeout decides
        opened = gate.on_timeout == "continue"
        detail += f"; on_timeout = {gate.on_timeout}"
    waited = round(time.monotonic() - started, 3)
    return GateResult(opened, Measurement(name(gate), Verdict.PASS if opened else Verdict.FAIL, status,
                                          f"{'open' if opened else 'closed'}: {detail}", {"waited_s": waited}))


async def pass_gates(gates: Sequence[GateConfig], point: str, payload: dict[str, Any],
                     approvals: Approvals | None) -> list[GateResult]:
    """Every gate at `point`, in the order written; stops at the first closed one."""
    results = []
    for gate in (g for g in gates if g.point == point):
        result = await check(gate, {**payload, "point": point}, approvals)
        results.append(result)
        if not result.open:
            break
    return results
