"""CLI, listeners, the timeout sweeper, and SIGTERM drain."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import functools
import gc
import logging
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Coroutine
from typing import Any

from turnout.proxy import admin, state
from turnout.proxy.downstream import BODY, HEAD, IDLE, LINGER, ClientProtocol
from turnout.proxy.exchange import Ctx
from turnout.proxy.master import Master
from turnout.proxy.metrics import Metrics, render, traffic

log = logging.getLogger("turnout.proxy")
TICK = 0.25  # sweeper period: timeouts are this coarse
POOL_IDLE = 4.0  # close pooled upstream connections idle this long (below common 5 s server keep-alives)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m turnout.proxy", description="turnout's builtin blue-green proxy")
    p.add_argument("--production", required=True, help="host:port of the production listener")
    p.add_argument("--test", required=True, help="host:port of the test listener (always the idle color)")
    p.add_argument("--admin", required=True, help="host:port or unix:/path of the admin API")
    p.add_argument("--token-file", required=True, help="file holding the admin bearer token")
    p.add_argument("--state-file", required=True, help="JSON routing state, rewritten on every change")
    p.add_argument("--damaged-state", choices=("refuse", "set-aside"), default="refuse",
                   help="a state file that cannot be read: refuse to start, or move it aside (kept, renamed "
                        "*.damaged-TIME) and start with no routes, for a controller that sets them again")
    p.add_argument("--initial-weights", metavar="BLUE,GREEN",
                   help="the split to serve when there is no usable state file (missing or set aside), e.g. 0,100: "
                        "what a controller last saw, so a restart never serves the other color meanwhile")
    p.add_argument("--drain", type=float, default=30.0, help="seconds in-flight requests get after SIGTERM")
    p.add_argument("--workers", type=int, default=1, help="processes sharing the listeners")
    p.add_argument("--log-file", help="log here instead of stderr")
    p.add_argument("--header-timeout", type=float, default=10.0,
                   help="seconds to receive a request head (production, test and admin listeners)")
    p.add_argument("--idle-timeout", type=float, default=60.0, help="seconds a keep-alive connection may idle")
    p.add_argument("--body-timeout", type=float, default=10.0,
                   help="seconds a request body may go without progress (else 408)")
    p.add_argument("--body-min-rate", type=float, default=512.0,
                   help="bytes/s a request body must average: each byte buys 1/rate s, up to --body-timeout "
                        "(0: no minimum)")
    p.add_argument("--write-timeout", type=float, default=60.0,
                   help="seconds a client may leave its answer unread before it is dropped")
    p.add_argument("--connect-timeout", type=float, default=3.0, help="seconds to connect to an upstream")
    p.add_argument("--upstream-timeout", type=float, default=60.0,
                   help="seconds an upstream may stay silent: before its response head (504) or within its body "
                        "(the client connection is reset)")
    p.add_argument("--max-connections", type=int, default=0,
                   help="client connections per listener and process, beyond it 503 + Retry-After "
                        "(0: as many as the descriptor limit allows)")
    p.add_argument("--admin-max-connections", type=int, default=16,
                   help="admin API connections; at the cap the oldest one still waiting for a request is closed")
    return p.parse_args(argv)


# Descriptors kept out of the client/upstream budget: admin connections, connections refused for capacity
# while they get their 503 (downstream.LINGER_MAX), listeners, log and state files, the loop's own.
FD_RESERVE = 96


def fd_budget(admin_max: int) -> int:
    """Client + upstream connections this process may hold: the descriptor limit (raised to the hard limit)
    minus a reserve, so production always accepts (if only to say 503) and the admin API always answers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        want = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
    return max(16, soft - FD_RESERVE - admin_max)


# The per-process data-plane settings (Ctx keywords), also sent to every worker.
DATA_OPTIONS = ("header_timeout", "idle_timeout", "body_timeout", "body_min_rate", "write_timeout",
                "connect_timeout", "upstream_timeout", "max_connections")


def data_options(opts: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(opts, k) for k in DATA_OPTIONS}


class LocalControl:
    """The admin API's view of the data plane in this same process."""

    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    async def apply(self, weights: tuple[int, int] | None, backends: dict[str, list[str]] | None,
                    generation: int) -> None:
        self.ctx.router.apply(weights, backends, generation)  # one assignment: in effect for the next request

    async def view(self) -> dict[str, Any]:
        r, m = self.ctx.router, self.ctx.metrics
        return view(r.to_json(), r.snap.test.name, r.healthy(self.ctx.loop.time()), m.inflight())

    async def metrics(self) -> str:
        s = self.ctx.router.snap
        return render(self.ctx.metrics, s.weights, s.generation)

    async def traffic(self) -> dict[str, Any]:
        return traffic(self.ctx.metrics)


def view(saved: dict[str, Any], test: str, healthy: dict[str, list[str]], inflight: dict[str, int]) -> dict[str, Any]:
    return {"weights": saved["weights"], "test": test, "backends": saved["backends"], "healthy": healthy,
            "inflight": inflight, "generation": saved["generation"], "pid": os.getpid()}


def sweep(ctx: Ctx) -> None:
    """Enforce every timeout and age out pooled connections, without a timer per request."""
    now = ctx.now = ctx.loop.time()
    waited = now - ctx.upstream_timeout
    unread = now - ctx.write_timeout
    for c in list(ctx.clients):
        state = c.state
        if now > c.deadline and ((state in (HEAD, BODY) and not c.reading_paused)
                                 or (state == IDLE and c.active is None) or state == LINGER):
            c.timeout()
            continue
        if c.write_paused and c.write_since < unread:  # the client reads nothing of what we send
            c.stalled_reader()
            continue
        ex = c.active
        up = ex.conn if ex is not None else None
        if up is None or ex is None or ex.stats is None:
            continue
        if up.in_head:
            if ex.complete and ex.t_sent < waited:
                ex.stats.errors += 1
                c.fail(ex, b"upstream did not answer in time", 504)
        elif up.last_read < waited and not up.read_paused:  # the body stopped coming: cut, visibly
            ex.stats.errors += 1
            c.truncate(ex)
    oldest = now - POOL_IDLE
    for b in ctx.router.registry.values():
        idle = b.idle
        while idle and idle[0].idle_since < oldest:
            idle.pop(0).close()
    ctx.loop.call_later(TICK, sweep, ctx)


def bind(addr: str) -> socket.socket:
    """Bind a listener up front, so a taken port is a one-line error before anything starts."""
    host, port = admin.split_hostport(addr)
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT only; a live listener still wins
        try:
            sock.bind(sockaddr)
            sock.listen(4096)
        except OSError:
            sock.close()
            raise
    except OSError as err:
        reason = "address already in use" if err.errno == errno.EADDRINUSE else err.strerror or str(err)
        raise OSError(f"cannot listen on {addr}: {reason}") from None
    sock.setblocking(False)
    return sock


async def listen_on(ctx: Ctx, socks: list[socket.socket]) -> list[asyncio.AbstractServer]:
    servers: list[asyncio.AbstractServer] = []
    for li, sock in enumerate(socks):
        servers.append(await ctx.loop.create_server(functools.partial(ClientProtocol, ctx, li), sock=sock,
                                                    backlog=4096))
    return servers


async def drain(ctx: Ctx, servers: list[asyncio.AbstractServer], seconds: float) -> None:
    """Stop accepting; idle connections close now, busy ones after their response (Connection: close)."""
    for s in servers:
        s.close()
    ctx.draining = True
    for c in list(ctx.clients):
        if c.active is None and c.state == IDLE:
            c.transport.close()
    if ctx.clients:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.drained.wait(), seconds)
    if ctx.clients:
        log.warning("drain timeout: closing %d connections with requests in flight", len(ctx.clients))
    for c in list(ctx.clients):
        c.transport.abort()
    for b in ctx.router.registry.values():
        state.retire(b)


async def serve(opts: argparse.Namespace, router: state.Router, token: str, socks: list[socket.socket]) -> int:
    loop = asyncio.get_running_loop()
    saved = router.to_json()
    data = data_options(opts)
    control: admin.Control
    if opts.workers > 1:
        control = master = Master({**data, "admin_max": opts.admin_max_connections, "drain": opts.drain,
                                   "log_file": opts.log_file}, socks, saved, opts.workers)
    else:
        ctx = Ctx(loop, router, Metrics(), fd_budget=fd_budget(opts.admin_max_connections), **data)
        control = LocalControl(ctx)
    try:
        api = admin.Admin(control, token, opts.state_file, saved, header_timeout=opts.header_timeout,
                          idle_timeout=opts.idle_timeout, max_connections=opts.admin_max_connections)
        admin_server = await admin.start(api, opts.admin)
    except (OSError, ValueError) as err:
        print(f"turnout-proxy: cannot listen on {opts.admin}: {getattr(err, 'strerror', None) or err}",
              file=sys.stderr)
        return 2
    if opts.workers > 1:
        await master.start()
    else:
        servers = await listen_on(ctx, socks)
        sweep(ctx)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Long-lived objects won't die: keep the collector from rescanning them while requests churn.
    gc.collect()
    gc.freeze()
    log.info("serving production=%s test=%s admin=%s workers=%d generation=%d pid=%d", opts.production, opts.test,
             opts.admin, opts.workers, router.snap.generation, os.getpid())
    await stop.wait()
    log.info("SIGTERM: draining for up to %.1fs", opts.drain)
    if opts.workers > 1:
        await master.stop(opts.drain)
    else:
        await drain(ctx, servers, opts.drain)
    admin_server.close()
    log.info("stopped")
    return 0


def run(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every platform we serve from
        return asyncio.run(coro)
    return int(uvloop.run(coro))


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    logging.basicConfig(filename=opts.log_file, level=logging.INFO,
                        format="%(asctime)s turnout-proxy[%(process)d] %(levelname)s %(message)s")
    try:
        with open(opts.token_file) as f:
            token = f.read().strip()
        if not token:
            raise ValueError(f"token file {opts.token_file} is empty")
        router = state.Router()
        initial = state.parse_pair(opts.initial_weights) if opts.initial_weights else None
        restored = False
        try:
            restored = state.load(opts.state_file, router)
        except ValueError as err:
            if opts.damaged_state != "set-aside":
                raise
            aside = f"{opts.state_file}.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
            os.replace(opts.state_file, aside)
            log.warning("%s; moved it to %s and started with no routes: the controller sets them again", err, aside)
            print(f"turnout-proxy: {err}; moved it to {aside}", file=sys.stderr)
        if initial is not None and not restored:  # no state of its own: the controller's last split
            router.apply(initial, generation=0)
        if opts.workers < 1:
            raise ValueError("--workers must be at least 1")
        socks = [bind(opts.production), bind(opts.test)]
    except (OSError, ValueError) as err:
        print(f"turnout-proxy: {err}", file=sys.stderr)
        return 2
    return run(serve(opts, router, token, socks))
