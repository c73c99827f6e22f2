"""Open N keep-alive connections to a router, one request each, hold them idle, then one more request each.

    python benchmarks/manyclients.py HOST:PORT N

Prints `held <n> served <m>` once every connection had its first answer, then waits for a line on stdin
(the caller measures the router's memory meanwhile), sends the second round, prints one JSON line and exits.
Every phase is bounded in time; a connection that fails is counted, never retried.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return head.startswith(b"HTTP/1.1 200")


async def main(host: str, port: int, n: int) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    failed = 0
    t0 = time.monotonic()

    async def open_one() -> None:
        nonlocal failed
        try:
            async with asyncio.timeout(20):
                r, w = await asyncio.open_connection(host, port)
                if await one(r, w):
                    conns.append((r, w))
                else:
                    failed += 1
                    w.close()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            failed += 1

    for start in range(0, n, 500):  # 500 at a time: a burst, not a SYN flood
        await asyncio.gather(*(open_one() for _ in range(start, min(n, start + 500))))
    opened_s = time.monotonic() - t0
    print(f"held {len(conns)} served {len(conns)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)

    async def again(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> bool:
        try:
            async with asyncio.timeout(20):
                return await one(r, w)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            return False

    t1 = time.monotonic()
    second = await asyncio.gather(*(again(r, w) for r, w in conns))
    print(json.dumps({"connections": n, "held": len(conns), "failed_first": failed, "served_again": sum(second),
                      "open_and_serve_s": round(opened_s, 2), "second_round_s": round(time.monotonic() - t1, 2)}),
          flush=True)
    for _, w in conns:
        w.close()


if __name__ == "__main__":
    hostport, count = sys.argv[1], int(sys.argv[2])
    h, _, p = hostport.rpartition(":")
    asyncio.run(main(h, int(p), count))
