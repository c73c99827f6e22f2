"""The agent's traffic recorder: once a second, the router's live counters become one
TrafficPoint per color (requests, 5xx, p99, the weight served), kept in the store for deploy
reports and in memory for the dashboard. Routers without counters record nothing."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from turnout.errors import TurnoutError
from turnout.measure import histogram
from turnout.model import Color, Traffic, TrafficPoint, Weights
from turnout.routers.base import Router, TrafficSource
from turnout.store.base import Store

log = logging.getLogger("turnout.agent")
RECENT = 900  # points per color kept in memory: a quarter of an hour at one a second


class TrafficRecorder:
    def __init__(self, router: Router, store: Store, app: str, *, every: float = 1.0) -> None:
        self.router, self.store, self.app, self.every = router, store, app, every
        self.recent: deque[TrafficPoint] = deque(maxlen=RECENT * len(Color))
        self.changed = asyncio.Condition()  # notified after each tick (dashboard streams wait on it)
        self._last: tuple[Traffic, float] | None = None

    @property
    def enabled(self) -> bool:
        return isinstance(self.router, TrafficSource)

    async def tick(self) -> list[TrafficPoint]:
        if not isinstance(self.router, TrafficSource):
            return []
        reading = await self.router.traffic()
        now = time.time()
        weights: Weights | None = None
        with contextlib.suppress(TurnoutError):
            weights = (await self.router.observe()).weights
        last, self._last = self._last, (reading, now)
        if last is None:
            return []
        window = reading.since(last[0])
        points = [TrafficPoint(at=now, color=c, seconds=round(now - last[1], 3), requests=w.requests, errors=w.errors,
                               p99=histogram.quantile(reading.bounds, w.buckets, 0.99) if w.buckets else None,
                               weight=weights.of(c) if weights else -1) for c, w in window.items()]
        self.store.record_traffic(self.app, points)
        self.recent.extend(points)
        async with self.changed:
            self.changed.notify_all()
        return points

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except TurnoutError as exc:  # a router that is down: the reconciler's to repair, not ours
                log.debug("traffic recorder: %s", exc)
                self._last = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.every)

    def since(self, at: float) -> list[TrafficPoint]:
        """Recent points after `at` from memory; older ones from the store."""
        if self.recent and self.recent[0].at <= at:
            return [p for p in self.recent if p.at > at]
        return self.store.traffic(self.app, at + 1e-6)

    @staticmethod
    def as_json(points: list[TrafficPoint]) -> list[dict[str, Any]]:
        return [{"at": p.at, "color": p.color.value, "seconds": p.seconds, "requests": p.requests,
                 "errors": p.errors, "p99": p.p99, "weight": p.weight} for p in points]
