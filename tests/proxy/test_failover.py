"""Upstream failures: next instance, 502 when none, the keep-alive reuse race, SIGTERM drain."""

from __future__ import annotations

import asyncio
import signal

from .conftest import Client, StartProxy, Upstream, Upstreams, free_port, get


async def test_dead_instance_skipped_with_zero_failures(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    dead = f"127.0.0.1:{free_port()}"
    p = await start_proxy()
    await p.backends(blue=[dead, upstreams.blue[0].addr, upstreams.blue[1].addr], green=[upstreams.green[0].addr])
    c = await Client.open(p.production)
    results = [await c.request() for _ in range(30)]
    c.close()
    assert all(r.status == 200 and r.color == "blue" for r in results)
    assert {r.headers["x-backend"] for r in results} == {"blue1", "blue2"}
    s = await p.state()
    assert dead not in s["healthy"]["blue"] and dead in s["backends"]["blue"]
    assert 'turnout_proxy_upstream_errors_total{listener="production",color="blue"} 1' in await p.metrics()


async def test_all_instances_down_502(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy()
    await p.backends(blue=[f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"], green=[upstreams.green[0].addr])
    resp = await get(p.production)
    assert resp.status == 502 and resp.color == "blue"  # never falls over to the other color
    assert (await get(p.test)).color == "green"
    await p.backends(blue=[upstreams.blue[0].addr])
    assert (await get(p.production)).status == 200


async def test_upstream_that_never_answers_504(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--upstream-timeout", "0.5")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    resp = await get(p.production, "/hang")
    assert resp.status == 504 and resp.color == "blue"
    assert 0.2 < loop.time() - t0 < 2  # the sweeper's clock is coarse (0.25 s)
    assert (await get(p.production)).status == 200


async def test_pooled_connection_closed_by_upstream_is_retried(start_proxy: StartProxy,
                                                               upstreams: Upstreams) -> None:
    """Upstream drops idle keep-alive connections after 50 ms; requests sent right then must not fail."""
    for u in upstreams.blue:
        u.idle_close = 0.05
    p = await start_proxy()
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    clients = [await Client.open(p.production) for _ in range(8)]
    statuses: list[int] = []
    for i in range(25):
        statuses += [r.status for r in await asyncio.gather(*(c.request(
            "POST", "/echo", body=b"payload") for c in clients))]
        await asyncio.sleep(0.045 + (i % 5) * 0.003)  # land near the upstream's idle close
    for c in clients:
        c.close()
    assert statuses == [200] * 200


async def test_upstream_restart_kills_pooled_connections_zero_failures(start_proxy: StartProxy,
                                                                       upstreams: Upstreams) -> None:
    u = Upstream("blue", "restarting")
    asyncio.run_coroutine_threadsafe(u.start(), upstreams.loop).result(5)
    p = await start_proxy()
    await p.backends(blue=[u.addr], green=[upstreams.green[0].addr])
    clients = [await Client.open(p.production) for _ in range(10)]
    statuses: list[int] = []
    for _ in range(3):
        for _ in range(5):  # 10 concurrent requests: 10 pooled upstream connections
            statuses += [r.status for r in await asyncio.gather(*(c.request() for c in clients))]
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(u.restart(), upstreams.loop))
    for c in clients:
        c.close()
    assert statuses == [200] * 150
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(u.stop(), upstreams.loop))


async def test_sigterm_drains_in_flight_request(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--drain", "10")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    idle = await Client.open(p.production)
    await idle.request()
    c = await Client.open(p.production)
    slow = asyncio.create_task(c.request(path="/slow?seconds=1.5&chunks=15", timeout=10))
    await asyncio.sleep(0.3)
    p.proc.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    assert await idle.closed(timeout=2)  # idle keep-alive connections go at once
    try:  # and no new connections are accepted
        await asyncio.wait_for(get(p.production), 2)
        raise AssertionError("accepted a new connection while draining")
    except (ConnectionError, OSError, asyncio.IncompleteReadError):
        pass
    resp = await slow
    assert resp.body == b"".join(f"blue-{i}\n".encode() for i in range(15))
    assert await c.closed()  # its head went out before SIGTERM; the close comes after the body
    assert await asyncio.to_thread(p.proc.wait, 10) == 0


async def test_sigterm_drain_deadline(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--drain", "0.5")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    c = await Client.open(p.production)
    await c.send(b"GET /slow?seconds=5&chunks=5 HTTP/1.1\r\nHost: t\r\n\r\n")
    await asyncio.sleep(0.2)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    p.proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(p.proc.wait, 10) == 0
    assert loop.time() - t0 < 2.5
    assert await c.closed()
