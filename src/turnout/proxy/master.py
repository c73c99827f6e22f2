"""The master of a multi-worker proxy: holds the listeners and the admin API, starts and restarts workers.

Changes are all-or-wait: `apply` returns only after every live worker acknowledged the new state, and a worker
(re)started at any time gets the latest state in its start message, under the same lock, so no worker can miss
a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from typing import Any

from turnout.proxy import state
from turnout.proxy.metrics import Metrics, Stats, render, traffic

log = logging.getLogger("turnout.proxy")


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.proc, self.reader, self.writer = proc, reader, writer
        self.lock = asyncio.Lock()  # one question at a time: answers come back in order

    async def ask(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        async with self.lock:
            try:
                self.writer.write(json.dumps(msg).encode() + b"\n")
                await self.writer.drain()
                line = await asyncio.wait_for(self.reader.readline(), 10)
            except (OSError, TimeoutError, RuntimeError):  # RuntimeError: uvloop's "handler is closed"
                return None
        return json.loads(line) if line else None  # None: the worker died; it restarts with the latest state


class Master:
    def __init__(self, opts: dict[str, Any], socks: list[socket.socket], saved: dict[str, Any], n: int) -> None:
        self.opts, self.socks, self.saved, self.n = opts, socks, saved, n
        self.workers: list[Worker | None] = [None] * n
        self.lock = asyncio.Lock()
        self.stopping = False
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for i in range(self.n):
            await self._spawn(i)
            self.tasks.append(asyncio.get_running_loop().create_task(self._supervise(i)))

    async def _spawn(self, i: int) -> None:
        ours, theirs = socket.socketpair()
        async with self.lock:
            fds = [s.fileno() for s in self.socks]
            payload = {**self.opts, "listen_fds": fds, "control_fd": theirs.fileno(), "state": self.saved}
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "turnout.proxy.worker", json.dumps(payload), pass_fds=[*fds, theirs.fileno()])
            theirs.close()
            reader, writer = await asyncio.open_connection(sock=ours)
            self.workers[i] = Worker(proc, reader, writer)
        log.info("worker %d started, pid %d", i, proc.pid)

    async def _supervise(self, i: int) -> None:
        while True:
            w = self.workers[i]
            if w is None:
                return
            code = await w.proc.wait()
            self.workers[i] = None
            w.writer.close()
            if self.stopping:
                return
            log.error("worker %d (pid %d) exited with %s; restarting", i, w.proc.pid, code)
            await asyncio.sleep(0.5)
            await self._spawn(i)

    # -- admin.Control ----------------------------------------------------------------------------------------
    async def apply(self, weights: tuple[int, int] | None, backends: dict[str, list[str]] | None,
                    generation: int) -> None:
        async with self.lock:
            if weights is not None:
                self.saved = {**self.saved, "weights": dict(zip(state.COLORS, weights, strict=True))}
            if backends is not None:
                self.saved = {**self.saved, "backends": {**self.saved["backends"], **backends}}
            self.saved = {**self.saved, "generation": generation}
            msg = {"op": "apply", "weights": weights, "backends": backends, "generation": generation}
            await asyncio.gather(*(w.ask(msg) for w in self.workers if w is not None))

    async def _stats(self) -> list[dict[str, Any]]:
        replies = await asyncio.gather(*(w.ask({"op": "stats"}) for w in self.workers if w is not None))
        return [r for r in replies if r is not None]

    async def view(self) -> dict[str, Any]:
        from turnout.proxy.app import view

        replies = await self._stats()
        s = self.saved
        # passive health is per worker: an instance is healthy only if no worker has it marked down
        healthy = {c: [a for a in s["backends"].get(c, []) if all(a in r["healthy"][c] for r in replies)]
                   for c in state.COLORS}
        inflight = {c: sum(r["inflight"][c] for r in replies) for c in state.COLORS}
        w = s["weights"]
        return view(s, "blue" if w["green"] > w["blue"] else "green", healthy, inflight)

    async def _merged(self) -> Metrics:
        total = Metrics()
        for r in await self._stats():
            for li, row in enumerate(r["stats"]):
                for ci, data in enumerate(row):
                    total.stats[li][ci].merge(Stats.from_list(data))
            for li, n in enumerate(r["rejected"]):
                total.rejected[li] += n
        return total

    async def metrics(self) -> str:
        w = self.saved["weights"]
        return render(await self._merged(), (w["blue"], w["green"]), self.saved["generation"])

    async def traffic(self) -> dict[str, Any]:
        return traffic(await self._merged())

    async def stop(self, seconds: float) -> None:
        """Close our copy of the listeners (so the kernel refuses new connections once workers close theirs),
        then let every worker drain."""
        self.stopping = True
        for s in self.socks:
            s.close()
        live = [w for w in self.workers if w is not None and w.proc.returncode is None]
        for w in live:
            with contextlib.suppress(ProcessLookupError):
                w.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(w.proc.wait() for w in live)), seconds + 5)
        except TimeoutError:
            for w in live:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.proc.pid, signal.SIGKILL)
        for t in self.tasks:
            t.cancel()
