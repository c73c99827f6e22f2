"""`turnout logs` for containers: each instance's last lines, then (with follow) its new lines as they come.

The engine keeps a container's output (json-file or local log driver) until the container is removed.
Following reads one streamed `docker logs --follow` per container in a thread of its own (it blocks
for as long as the caller reads, so it must not hold one of the runtime's pool threads), and looks for
new containers of the color every RELIST seconds, so a deploy under `--follow` shows up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from turnout.errors import RuntimeFailure
from turnout.model import LogLine
from turnout.runtimes.docker.engine import Container, Engine

RELIST = 2.0
Found = Callable[[], Awaitable[list[tuple[Engine, Container]]]]


def source(c: Container) -> str:
    return f"{c.color}-{c.index}"


async def stream(containers: Found, *, lines: int, follow: bool) -> AsyncIterator[LogLine]:
    found = await containers()
    if not follow:
        for engine, c in found:
            for text in (await engine.logs(c.id, lines)).decode(errors="replace").splitlines():
                yield LogLine(source(c), text)
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[LogLine] = asyncio.Queue()
    followed: dict[str, _Follower] = {}
    tail: int | Literal["all"] = lines
    try:
        while True:
            for engine, c in found:
                if c.id not in followed:
                    followed[c.id] = _Follower(engine, c, tail, lambda line: loop.call_soon_threadsafe(
                        queue.put_nowait, line))
            tail = "all"  # containers that come later show all they printed: it all came after the call
            relist_at = loop.time() + RELIST
            while (left := relist_at - loop.time()) > 0:
                try:  # never yield inside a timeout: it would cancel the caller's own awaits
                    line = await asyncio.wait_for(queue.get(), left)
                except TimeoutError:
                    break
                yield line
            with contextlib.suppress(RuntimeFailure):  # an engine away for now: go on with those followed
                found = await containers()
    finally:
        for follower in followed.values():
            follower.close()


class _Follower:
    """One container's log stream, read in a daemon thread; closing the stream ends the thread."""

    def __init__(self, engine: Engine, c: Container, lines: int | Literal["all"],
                 put: Callable[[LogLine], Any]) -> None:
        self._stream: Any = None
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._pump, args=(engine, c, lines, put), daemon=True,
                                        name=f"turnout-docker-logs-{c.name}")
        self._thread.start()

    def _pump(self, engine: Engine, c: Container, lines: int | Literal["all"], put: Callable[[LogLine], Any]) -> None:
        partial = b""
        try:
            self._stream = engine.api().logs(c.id, stdout=True, stderr=True, stream=True, follow=True, tail=lines)
            if self._closed.is_set():
                self._stream.close()
            for chunk in self._stream:
                complete, _, partial = (partial + chunk).rpartition(b"\n")
                if complete or chunk.endswith(b"\n"):
                    for text in complete.decode(errors="replace").split("\n"):
                        put(LogLine(source(c), text))
        except Exception:  # noqa: S110 - the container went away or the stream was closed: this one is done
            pass
        if partial and not self._closed.is_set():
            put(LogLine(source(c), partial.decode(errors="replace")))

    def close(self) -> None:
        self._closed.set()
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.close()
