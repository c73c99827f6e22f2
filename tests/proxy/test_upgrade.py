"""Upgrade (e.g. WebSocket): a 101 turns the exchange into a byte tunnel pinned to the color it started on."""

from __future__ import annotations

import asyncio

from .conftest import Client, Proxy, get, parse_head

UPGRADE = b"GET /ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"


async def test_tunnel_echoes_and_stays_on_its_color(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    await c.send(UPGRADE)
    status, headers = parse_head(await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5))
    assert status == 101 and headers["upgrade"] == "websocket" and headers["x-turnout-color"] == "blue"
    assert await asyncio.wait_for(c.reader.readline(), 5) == b"hello from blue\n"
    await proxy.route(0, 100)  # a switch does not move an open tunnel
    for i in range(3):
        frame = f"frame-{i}\x00\xff".encode("latin-1") * 1000
        await c.send(frame)
        assert await asyncio.wait_for(c.reader.readexactly(len(frame)), 5) == frame
    c.writer.close()
    assert (await get(proxy.production)).color == "green"
    assert (await proxy.state())["inflight"] == {"blue": 0, "green": 0}


async def test_client_eof_closes_the_tunnel(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    await c.send(UPGRADE)
    await asyncio.wait_for(c.reader.readuntil(b"hello from blue\n"), 5)
    c.writer.write_eof()
    assert await c.closed()


async def test_refused_upgrade_is_a_normal_response_then_close(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    await c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
    resp = await c.response()
    assert resp.status == 200 and resp.body == b"blue\n" and resp.headers["connection"] == "close"
    assert await c.closed()
