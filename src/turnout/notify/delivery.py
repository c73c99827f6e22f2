"""Deliveries to one target in the background: a bounded queue, one worker, retries with backoff,
and one record per event (delivered, failed or dropped).

`submit` never waits and never raises, so the journal (and with it a deploy or a rollback) is never
held by a receiver. The worker posts the target's events in order; each attempt is bounded by the
target's timeout, so a receiver that accepts and never answers costs `timeout` per attempt, in
this worker only. A full queue drops the new event, and the drop is recorded like a delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from turnout.measure import web
from turnout.notify import signing
from turnout.notify.targets import Target

log = logging.getLogger("turnout.notify")
USER_AGENT = "turnout-notify/1"
_WORKERS: set[asyncio.Task[None]] = set()  # strong references: a replaced notifier's workers still finish


@dataclass(frozen=True)
class Record:
    """What became of one event for one target: `turnout notify log` prints these."""

    at: float  # when the event was queued (time.time())
    target: str
    where: str  # scheme://host only: the rest of a chat webhook URL is its credential
    event: str
    audit_id: int | None
    delivery: str  # the X-Turnout-Delivery id, the same on every attempt
    outcome: str  # delivered, failed, dropped
    status: int | None = None  # the last HTTP status
    attempts: int = 0
    latency_ms: float = 0.0  # first attempt to last answer, retries and backoff included
    queued_ms: float = 0.0  # waiting behind the target's earlier events
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Pending:
    event: str
    audit_id: int | None
    body: bytes
    content_type: str
    at: float
    queued: float  # monotonic
    id: str


class Dispatcher:
    def __init__(self, target: Target, record: Callable[[Record], None],
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.target, self.record, self.sleep = target, record, sleep
        self.pending: deque[_Pending] = deque()
        self._task: asyncio.Task[None] | None = None

    def submit(self, payload: dict[str, Any]) -> None:
        event = str(payload.get("event", ""))
        try:
            body, content_type = self.target.render(payload)
        except Exception as exc:  # a bug in a format must not reach the journal: record it instead
            log.exception("notify %s: cannot render %s", self.target.name, event)
            self.record(self._record(event, payload.get("id"), uuid.uuid4().hex, "failed", error=f"render: {exc}"))
            return
        item = _Pending(event, payload.get("id"), body, content_type, time.time(), time.monotonic(), uuid.uuid4().hex)
        if len(self.pending) >= self.target.queue:
            self.record(self._record(event, item.audit_id, item.id, "dropped",
                                     error=f"queue full ({self.target.queue} events waiting)"))
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to deliver from (a synchronous caller): say so, never raise
            self.record(self._record(event, item.audit_id, item.id, "dropped", error="no event loop to deliver from"))
            return
        self.pending.append(item)
        if self._task is None:
            self._task = loop.create_task(self._work(), name=f"notify {self.target.name}")
            _WORKERS.add(self._task)
            self._task.add_done_callback(_WORKERS.discard)

    @property
    def busy(self) -> bool:
        return self._task is not None

    async def _work(self) -> None:
        try:
            while self.pending:  # checked again after the client closed: an event may have come meanwhile
                async with web.async_client(timeout=self.target.timeout, follow_redirects=False) as client:
                    while self.pending:
                        self.record(await self._deliver(client, self.pending[0]))
                        self.pending.popleft()  # only now: one cut short by stop() is recorded as dropped
        finally:
            self._task = None

    async def _deliver(self, client: httpx.AsyncClient, item: _Pending) -> Record:
        t = self.target
        started = time.monotonic()
        queued_ms = (started - item.queued) * 1000
        status: int | None = None
        error = ""
        attempt = 0
        for attempt in range(1, t.retries + 2):
            headers = {"Content-Type": item.content_type, "User-Agent": USER_AGENT, "X-Turnout-Event": item.event,
                       "X-Turnout-Delivery": item.id}
            if t.secret:
                headers |= signing.headers(t.secret, item.body)
            wait = min(t.backoff * 2 ** (attempt - 1), t.max_backoff)
            try:
                resp = await asyncio.wait_for(client.post(t.url, content=item.body, headers=headers), t.timeout)
            except (httpx.HTTPError, OSError, TimeoutError) as exc:
                status, error, retry = None, _describe(exc, t.timeout), True
            else:
                status = resp.status_code
                if 200 <= status < 300:
                    return self._record(item.event, item.audit_id, item.id, "delivered", status=status,
                                        attempts=attempt, started=started, queued_ms=queued_ms, at=item.at)
                error = f"HTTP {status}: {resp.text[:200].strip()}"
                retry = status in (408, 429) or status >= 500
                wait = _retry_after(resp, wait, t.max_backoff)
            if not retry or attempt > t.retries:
                break
            log.info("notify %s: %s attempt %d: %s; again in %.1fs", t.name, item.event, attempt, error, wait)
            await self.sleep(wait)
        log.warning("notify %s: %s not delivered after %d attempts: %s", t.name, item.event, attempt, error)
        return self._record(item.event, item.audit_id, item.id, "failed", status=status, attempts=attempt,
                            started=started, queued_ms=queued_ms, error=error, at=item.at)

    def _record(self, event: str, audit_id: Any, delivery: str, outcome: str, *, status: int | None = None,
                attempts: int = 0, started: float | None = None, queued_ms: float = 0.0, error: str = "",
                at: float | None = None) -> Record:
        latency = (time.monotonic() - started) * 1000 if started is not None else 0.0
        return Record(at=at or time.time(), target=self.target.name, where=self.target.where, event=event,
                      audit_id=audit_id if isinstance(audit_id, int) else None, delivery=delivery, outcome=outcome,
                      status=status, attempts=attempts, latency_ms=round(latency, 1), queued_ms=round(queued_ms, 1),
                      error=error)

    async def stop(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait up to `timeout` for the queue to empty; what is left is recorded as dropped."""
        task = self._task
        if task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), timeout)
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        while self.pending:
            item = self.pending.popleft()
            self.record(self._record(item.event, item.audit_id, item.id, "dropped", at=item.at,
                                     error="the agent stopped before it was delivered"))


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"no answer within {timeout:g}s"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _retry_after(resp: httpx.Response, default: float, cap: float) -> float:
    """A 429's or 503's Retry-After (seconds), capped: Discord and Teams send one when they throttle."""
    try:
        return min(max(float(resp.headers.get("Retry-After", "")), 0.0), cap)
    except ValueError:
        return default
