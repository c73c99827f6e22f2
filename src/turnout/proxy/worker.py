"""One data-plane process of a multi-worker proxy (`--workers N`, N > 1).

The master binds the listeners and starts each worker with the listening sockets and one end of a socketpair
inherited (pass_fds). Over that pair it sends JSON lines: the routing state to apply, or a request for stats;
the worker answers each line with one line, so the master's PUT /route returns only after every worker has
the new snapshot in place.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import signal
import socket
import sys
from typing import Any

from turnout.proxy import state
from turnout.proxy.app import DATA_OPTIONS, drain, fd_budget, listen_on, run, sweep
from turnout.proxy.exchange import Ctx
from turnout.proxy.metrics import Metrics

log = logging.getLogger("turnout.proxy")


def stats_message(ctx: Ctx) -> dict[str, Any]:
    m = ctx.metrics
    return {"healthy": ctx.router.healthy(ctx.loop.time()), "inflight": m.inflight(), "rejected": m.rejected,
            "stats": [[s.to_list() for s in row] for row in m.stats]}


async def control(ctx: Ctx, sock: socket.socket, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        while line := await reader.readline():
            msg = json.loads(line)
            if msg["op"] == "apply":
                w = msg.get("weights")
                ctx.router.apply(tuple(w) if w else None, msg.get("backends"), msg["generation"])
                reply: dict[str, Any] = {"ok": True}
            else:
                reply = stats_message(ctx)
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
    finally:
        stop.set()  # master gone: nobody can steer this worker any more


async def serve(opts: dict[str, Any]) -> int:
    loop = asyncio.get_running_loop()
    ctx = Ctx(loop, state.Router(), Metrics(), fd_budget=fd_budget(opts["admin_max"]),
              **{k: opts[k] for k in DATA_OPTIONS})
    s = opts["state"]
    ctx.router.apply(state.parse_weights(s["weights"]), state.parse_backends(s["backends"]), s["generation"])
    socks = [socket.socket(fileno=fd) for fd in opts["listen_fds"]]
    servers = await listen_on(ctx, socks)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, lambda: None)  # the master decides; a terminal ^C reaches us too
    task = loop.create_task(control(ctx, socket.socket(fileno=opts["control_fd"]), stop))
    sweep(ctx)
    gc.collect()
    gc.freeze()  # as in the single-process proxy: long-lived objects stay out of the collector's way
    await stop.wait()
    await drain(ctx, servers, opts["drain"])
    task.cancel()
    return 0


def main() -> int:
    opts = json.loads(sys.argv[1])
    logging.basicConfig(filename=opts.get("log_file"), level=logging.INFO,
                        format="%(asctime)s turnout-proxy[%(process)d] %(levelname)s %(message)s")
    return run(serve(opts))


if __name__ == "__main__":
    raise SystemExit(main())
