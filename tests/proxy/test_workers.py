"""--workers N: every worker has a change in effect when the admin call returns; dead workers come back."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from .conftest import Client, Proxy, StartProxy, Upstreams, get


def workers_of(p: Proxy) -> list[int]:
    children = Path(f"/proc/{p.proc.pid}/task/{p.proc.pid}/children").read_text().split()
    return [int(c) for c in children]


async def test_switch_in_effect_in_every_worker(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--workers", "2")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    clients = [await Client.open(p.production) for _ in range(16)]  # spread over both workers
    assert {(await c.request()).color for c in clients} == {"blue"}
    assert len(workers_of(p)) == 2
    for round_ in range(3):
        await p.route(0, 100)
        assert {(await c.request()).color for c in clients} == {"green"}, round_
        assert {(await get(p.production)).color for _ in range(10)} == {"green"}
        await p.route(100, 0)
        assert {(await c.request()).color for c in clients} == {"blue"}
    for c in clients:
        c.close()
    text = await p.metrics()  # summed over workers
    assert 'turnout_proxy_requests_total{listener="production",color="green",code="2xx"} 78' in text
    s = await p.state()
    assert s["pid"] == p.proc.pid and s["inflight"] == {"blue": 0, "green": 0}


async def test_dead_worker_restarts_with_latest_state(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--workers", "2")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    victim = workers_of(p)[0]
    os.kill(victim, signal.SIGKILL)
    await p.route(0, 100)  # applied while the worker is down
    for _ in range(100):
        pids = workers_of(p)
        if len(pids) == 2 and victim not in pids:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("worker was not restarted")
    await asyncio.sleep(0.3)
    assert {(await get(p.production)).color for _ in range(20)} == {"green"}


async def test_sigterm_drains_all_workers(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--workers", "2", "--drain", "10")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    clients = [await Client.open(p.production) for _ in range(6)]
    slow = [asyncio.create_task(c.request(path="/slow?seconds=1&chunks=10")) for c in clients]
    await asyncio.sleep(0.3)
    p.proc.send_signal(signal.SIGTERM)
    for task in slow:
        assert (await task).body == b"".join(f"blue-{i}\n".encode() for i in range(10))
    assert await asyncio.to_thread(p.proc.wait, 15) == 0
    for c in clients:
        c.close()
