"""Hostile or broken peers get a 4xx or a close; the proxy keeps serving everyone else."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import Client, Proxy, StartProxy, Upstreams, get, parse_head


async def answer_and_close(proxy: Proxy, raw: bytes) -> int:
    c = await Client.open(proxy.production)
    await c.send(raw)
    head = await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5)
    status, headers = parse_head(head)
    assert headers.get("connection") == "close"
    assert await c.closed()
    return status


@pytest.mark.parametrize(("raw", "status"), [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET / HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 405),
])
async def test_malformed_requests_rejected(proxy: Proxy, raw: bytes, status: int) -> None:
    assert await answer_and_close(proxy, raw) == status
    assert (await get(proxy.production)).status == 200


async def test_oversized_headers_431(proxy: Proxy) -> None:
    big = b"X-Big: " + b"a" * 70_000 + b"\r\n"
    assert await answer_and_close(proxy, b"GET / HTTP/1.1\r\nHost: t\r\n" + big + b"\r\n") == 431
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(700))
    assert await answer_and_close(proxy, b"GET / HTTP/1.1\r\nHost: t\r\n" + many + b"\r\n") == 431
    # trickled in small writes, never completing the head
    c = await Client.open(proxy.production)
    await c.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Long: ")
    for _ in range(80):
        c.writer.write(b"b" * 1024)
    await c.writer.drain()
    assert (await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 431")
    assert (await get(proxy.production)).status == 200


async def test_slowloris_gets_408(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--header-timeout", "1")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    c = await Client.open(p.production)
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def trickle() -> None:  # one byte every 0.1 s: never a whole head in time
        for ch in b"GET / HTTP/1.1\r\nHost: t\r\n":
            try:
                c.writer.write(bytes([ch]))
                await c.writer.drain()
            except ConnectionError:
                return
            await asyncio.sleep(0.1)

    sender = asyncio.create_task(trickle())
    got = await asyncio.wait_for(c.reader.read(-1), 5)
    sender.cancel()
    c.close()
    assert got.startswith(b"HTTP/1.1 408")
    assert 0.9 < loop.time() - t0 < 3
    assert (await get(p.production)).status == 200


async def test_idle_keepalive_connection_closed(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--idle-timeout", "0.5", "--header-timeout", "5")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    c = await Client.open(p.production)
    assert (await c.request()).status == 200
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    assert await c.closed(timeout=3)
    assert loop.time() - t0 < 2
    idle = await Client.open(p.production)  # connected, never sends: closed after the header timeout...
    assert not await idle.closed(timeout=1)  # ...which is 5 s, not the idle timeout
    idle.close()


async def test_stalled_request_body_times_out(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--body-timeout", "0.5", "--body-min-rate", "0")  # a pure idle timeout
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    c = await Client.open(p.production)
    await c.send(b"POST /headers HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
    for _ in range(5):  # slow but moving: fine
        await asyncio.sleep(0.3)
        await c.send(b"x")
    raw = await asyncio.wait_for(c.reader.read(-1), 5)  # then it stalls
    assert raw.startswith(b"HTTP/1.1 408")
    c.close()
    assert (await get(p.production)).status == 200


async def test_client_disconnects_mid_body_and_mid_response(proxy: Proxy) -> None:
    for _ in range(5):
        c = await Client.open(proxy.production)
        await c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
        c.writer.transport.abort()
        c = await Client.open(proxy.production)
        await c.send(b"GET /slow?seconds=1&chunks=10 HTTP/1.1\r\nHost: t\r\n\r\n")
        await asyncio.wait_for(c.reader.readuntil(b"blue-0\n"), 5)
        c.writer.transport.abort()
    await asyncio.sleep(0.2)
    assert (await get(proxy.production)).body == b"blue\n"
    state = await proxy.state()
    assert state["inflight"] == {"blue": 0, "green": 0}


async def test_upstream_dies_mid_response_closes_client(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    await c.send(b"GET /die HTTP/1.1\r\nHost: t\r\n\r\n")
    head = await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5)
    assert parse_head(head)[0] == 200
    assert await c.closed(timeout=5)  # truncated, never a hang
    assert (await get(proxy.production)).body == b"blue\n"
    assert 'turnout_proxy_upstream_errors_total{listener="production",color="blue"} 1' in await proxy.metrics()


async def test_garbage_flood_then_still_serving(proxy: Proxy) -> None:
    clients = [await Client.open(proxy.production) for _ in range(20)]
    for i, c in enumerate(clients):
        c.writer.write(bytes([33 + i]) * 3000 + b"\r\n\r\n")
    for c in clients:
        assert await c.closed()
    assert (await get(proxy.production)).status == 200
