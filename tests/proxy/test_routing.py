"""Color choice: per request, from one snapshot; in-flight requests drain on their color."""

from __future__ import annotations

import asyncio
from collections import Counter

from .conftest import Client, Proxy, StartProxy, Upstreams, get


async def test_switch_applies_to_next_request_on_open_keepalive_connection(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    first = await c.request()
    assert (first.status, first.body, first.color) == (200, b"blue\n", "blue")
    await proxy.route(0, 100)
    second = await c.request()  # same TCP connection
    assert (second.body, second.color) == (b"green\n", "green")
    await proxy.route(100, 0)
    assert (await c.request()).color == "blue"
    c.close()


async def test_stream_in_flight_across_switch_completes_from_old_color(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    slow = asyncio.create_task(c.request(path="/slow?seconds=3&chunks=30", timeout=15))
    await asyncio.sleep(0.5)
    await proxy.route(0, 100)
    assert (await get(proxy.production)).color == "green"  # new requests already go to green
    resp = await slow
    assert resp.status == 200 and resp.color == "blue"
    assert resp.body == b"".join(f"blue-{i}\n".encode() for i in range(30))
    assert (await c.request()).color == "green"  # and the same connection follows the switch afterwards
    c.close()


async def test_test_listener_always_serves_idle_color(proxy: Proxy) -> None:
    assert (await get(proxy.test)).color == "green"
    assert (await proxy.state())["test"] == "green"
    await proxy.route(0, 100)
    assert (await get(proxy.test)).color == "blue"
    await proxy.route(30, 70)  # canary: green dominant, so blue is idle
    assert {(await get(proxy.test)).color for _ in range(10)} == {"blue"}
    await proxy.route(70, 30)
    assert {(await get(proxy.test)).color for _ in range(10)} == {"green"}
    assert (await proxy.state())["test"] == "green"


async def test_weights_split_as_asked(proxy: Proxy) -> None:
    await proxy.route(75, 25)
    c = await Client.open(proxy.production)
    counts = Counter([(await c.request()).color for _ in range(200)])
    c.close()
    assert counts == {"blue": 150, "green": 50}  # the split is smooth and exact per 100 requests


async def test_round_robin_over_instances_of_a_color(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy()
    await p.backends(blue=[u.addr for u in upstreams.blue], green=[upstreams.green[0].addr])
    c = await Client.open(p.production)
    seen = Counter([(await c.request()).headers["x-backend"] for _ in range(20)])
    c.close()
    assert seen == {"blue1": 10, "blue2": 10}


async def test_empty_color_is_a_502_not_a_color_mix(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy()
    await p.backends(blue=[upstreams.blue[0].addr])
    resp = await get(p.test)  # green has no instances
    assert resp.status == 502 and resp.color == "green"
    assert (await get(p.production)).color == "blue"
