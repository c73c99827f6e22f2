"""HTTP/1.x semantics: streaming both ways, HTTP/1.0, HEAD, headers, pipelining, odd upstream framings."""

from __future__ import annotations

import asyncio
import json

from .conftest import Client, Proxy, get, parse_head


async def test_chunked_upload_and_response_stream_piece_by_piece(proxy: Proxy) -> None:
    """Each uploaded chunk comes back before the next is sent: nothing is buffered whole, either way."""
    c = await Client.open(proxy.production)
    await c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    head = await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5)
    status, headers = parse_head(head)
    assert status == 200 and headers["x-turnout-color"] == "blue"
    for i in range(5):
        piece = f"piece-{i}".encode() * 100
        await c.send(b"%x\r\n%b\r\n" % (len(piece), piece))
        size = int(await asyncio.wait_for(c.reader.readuntil(b"\r\n"), 5), 16)
        assert await c.reader.readexactly(size + 2) == piece + b"\r\n"
    await c.send(b"0\r\n\r\n")
    assert await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5) == b"0\r\n\r\n"
    assert (await c.request()).body == b"blue\n"  # connection still usable
    c.close()


async def test_large_content_length_bodies_both_ways(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    body = bytes(range(256)) * 4096  # 1 MiB
    resp = await c.request("POST", "/echo", body=body)
    assert resp.body == body
    big = await c.request(path="/big?n=3000000")
    assert len(big.body) == 3000000 // 5 * 5 and big.body.startswith(b"blue\n")
    c.close()


async def test_response_streams_before_it_ends(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    await c.send(b"GET /slow?seconds=2&chunks=4 HTTP/1.1\r\nHost: t\r\n\r\n")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.wait_for(c.reader.readuntil(b"blue-0\n"), 5)
    assert loop.time() - t0 < 1.0  # first piece long before the 2 s response ends
    c.close()


async def test_http10_client(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    resp = await c.request(version="HTTP/1.0", headers={})
    assert (resp.status, resp.body, resp.color) == (200, b"blue\n", "blue")
    assert resp.headers.get("connection") == "close"
    assert await c.closed()
    # HTTP/1.0 without Host, against an upstream that would otherwise answer chunked
    c = await Client.open(proxy.production)
    await c.send(b"GET /slow?seconds=0.1&chunks=3 HTTP/1.0\r\n\r\n")
    raw = await asyncio.wait_for(c.reader.read(-1), 5)
    assert raw.startswith(b"HTTP/1.1 200") and b"blue-2\n" in raw


async def test_head_request_has_no_body_and_keeps_connection(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    head = await c.request("HEAD")
    assert head.status == 200 and head.headers["content-length"] == "5" and head.body == b""
    assert (await c.request()).body == b"blue\n"
    c.close()


async def test_forwarded_headers(proxy: Proxy) -> None:
    resp = await get(proxy.production, "/headers?x=1", headers={
        "X-Forwarded-For": "10.0.0.1", "Connection": "keep-alive, X-Private", "X-Private": "secret",
        "Keep-Alive": "timeout=5",
        "Proxy-Connection": "keep-alive", "X-Custom": "kept", "TE": "trailers", "Upgrade": "h2c"})
    seen = json.loads(resp.body)
    names = {n.lower(): v for n, v in seen["headers"]}
    assert seen["target"] == "/headers?x=1" and seen["version"] == "HTTP/1.1"
    assert names["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert names["x-custom"] == "kept" and names["host"] == "test"
    for hop in ("connection", "keep-alive", "proxy-connection", "te", "upgrade", "x-private"):
        assert hop not in names


async def test_hop_by_hop_response_headers_stripped(proxy: Proxy) -> None:
    resp = await get(proxy.production, "/close")  # upstream: Connection: close, x-hop; Keep-Alive; X-Hop
    assert resp.status == 200 and resp.body == b"blue\n"
    assert "keep-alive" not in resp.headers and "x-hop" not in resp.headers
    assert "connection" not in resp.headers  # the client connection stays open...
    c = await Client.open(proxy.production)
    for _ in range(3):  # ...and the proxy opens a fresh upstream connection each time
        assert (await c.request(path="/close")).body == b"blue\n"
    c.close()


async def test_close_delimited_upstream_response(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    resp = await c.request(path="/nolength")
    assert resp.body == b"blue" * 100 and resp.headers["connection"] == "close"
    assert await c.closed()


async def test_pipelined_requests_answered_in_order(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    await c.send(b"GET /slow?seconds=0.2&chunks=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                 b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                 b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (await c.response()).body == b"blue-0\nblue-1\n"
    assert (await c.response()).body == b"hello"
    assert (await c.response()).body == b"blue\n"
    c.close()


async def test_expect_100_continue(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    await c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    assert await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5) == b"HTTP/1.1 100 Continue\r\n\r\n"
    await c.send(b"data")
    assert (await c.response("POST")).body == b"data"
    c.close()


async def test_upstream_status_passes_through(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    assert (await c.request(path="/status/404")).status == 404
    assert (await c.request(path="/status/204")).status == 204
    assert (await c.request(path="/status/503")).status == 503
    assert (await c.request()).body == b"blue\n"
    c.close()


async def test_connection_close_request(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    resp = await c.request(headers={"Connection": "close"})
    assert resp.body == b"blue\n" and resp.headers["connection"] == "close"
    assert await c.closed()


async def test_slow_reader_gets_everything_with_backpressure(proxy: Proxy) -> None:
    """Both directions at once through the echo: the client uploads 4 MiB but reads the echo slowly."""
    c = await Client.open(proxy.production)
    body = bytes(range(251)) * (4 * 1024 * 1024 // 251)
    await c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body))
    sender = asyncio.create_task(c.send(body))
    status, _ = parse_head(await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5))
    got = bytearray()
    async with asyncio.timeout(20):
        while True:
            size = int(await c.reader.readuntil(b"\r\n"), 16)
            if size == 0:
                await c.reader.readuntil(b"\r\n")
                break
            got += await c.reader.readexactly(size)
            await c.reader.readexactly(2)
            if len(got) < 1024 * 1024:
                await asyncio.sleep(0.002)  # slow at first: buffers fill up and everyone must pause
    await sender
    assert status == 200 and bytes(got) == body
    assert (await c.request()).body == b"blue\n"
    c.close()


async def test_answer_before_the_whole_upload_keeps_the_connection(proxy: Proxy) -> None:
    """A server may answer before it read the body (an upload sink, a 401): the client still sends all of it
    and its keep-alive connection goes on."""
    c = await Client.open(proxy.production)
    body = b"u" * (1024 * 1024)
    for _ in range(3):
        await c.send(b"POST /early HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:1000])
        resp = await c.response("POST")  # while most of the body is still to come
        assert (resp.status, resp.body) == (200, b"early\n") and "connection" not in resp.headers
        await c.send(body[1000:])
    assert (await c.request()).body == b"blue\n"
    c.close()
