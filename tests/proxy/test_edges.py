"""The edges of issue 11, one test (or more) per weakness, on the real proxy with real sockets."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import Client, Proxy, StartProxy, Upstreams, free_port, get, parse_head

INSTANCE = Path(__file__).with_name("instance.py")


# -- 1. responses never cross clients ------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["same", "chunked", "after", "headbody"])
async def test_bytes_beyond_a_response_reach_no_client(proxy: Proxy, how: str) -> None:
    """The upstream sends one answer more than asked: it is dropped with its connection, never forwarded.
    (Bytes that arrive after the proxy sent the next request on that connection can't be told from its answer;
    that is HTTP/1.1. Bytes already waiting when a pooled connection is picked are caught: `stale()`.)"""
    method = "HEAD" if how == "headbody" else "GET"
    c = await Client.open(proxy.production)
    seen: list[tuple[str, bytes]] = []
    for _ in range(10):
        r = await c.request(method, f"/extra?how={how}")
        seen.append((r.headers.get("x-backend", ""), r.body))
        if how == "after":
            await asyncio.sleep(0.15)  # the extra answer arrives while no request is outstanding
        for _ in range(2):  # other clients right behind: they would get any pooled leftover
            o = await get(proxy.production)
            seen.append((o.headers.get("x-backend", ""), o.body))
        r = await c.request()  # and the same client's next request
        seen.append((r.headers.get("x-backend", ""), r.body))
    c.close()
    want_first = b"" if method == "HEAD" else b"blue\n"
    assert seen[0] == ("blue1", want_first)
    bad = [x for x in seen if x[0] != "blue1" or x[1] not in (b"blue\n", want_first)]
    assert bad == [], bad


async def test_a_head_that_does_not_start_with_a_status_line_is_a_502(proxy: Proxy) -> None:
    """Found by the fuzzer: "\\r\\nHTTP/1.1 ..." has a "1" at offset 9 and passed as a raw 1xx interim head."""
    resp = await get(proxy.production, "/crlf")
    assert resp.status == 502 and b"EVIL" not in resp.raw_head + resp.body
    assert (await get(proxy.production)).body == b"blue\n"


# -- 2. the admin port can't take production down --------------------------------------------------------------

async def test_silent_admin_connections_time_out_and_are_capped(start_proxy: StartProxy,
                                                                upstreams: Upstreams) -> None:
    p = await start_proxy("--header-timeout", "1")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    port = int(p.admin.rsplit(":", 1)[1])
    silent = [await Client.open(port) for _ in range(60)]  # no token needed to hold a connection
    closed = await asyncio.gather(*(s.closed(timeout=0.5) for s in silent))
    assert sum(closed) >= 60 - 16  # over the cap (16), the oldest silent ones made room at once
    assert (await p.state())["weights"] == {"blue": 100, "green": 0}  # a real caller still gets in
    assert all(await asyncio.gather(*(s.closed(timeout=3) for s in silent)))  # the rest: header timeout
    assert (await get(p.production)).status == 200


# -- 3. slow bodies, non-reading clients, connection caps, descriptor headroom -----------------------------------

async def test_request_body_trickle_times_out(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    """One byte every 0.25 s keeps an idle timeout happy forever; the minimum rate ends it."""
    p = await start_proxy("--body-timeout", "1")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    c = await Client.open(p.production)
    await c.send(b"POST /headers HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def trickle() -> None:
        for _ in range(40):
            try:
                await c.send(b"x")
            except ConnectionError:
                return
            await asyncio.sleep(0.25)

    sender = asyncio.create_task(trickle())
    raw = await asyncio.wait_for(c.reader.read(-1), 8)
    sender.cancel()
    assert raw.startswith(b"HTTP/1.1 408") and loop.time() - t0 < 2.5
    c.close()
    assert (await get(p.production)).status == 200


async def test_client_that_never_reads_is_dropped(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--write-timeout", "1")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    c = await Client.open(p.production)
    await c.send(b"GET /big?n=200000000 HTTP/1.1\r\nHost: t\r\n\r\n")  # 200 MB, never read
    await asyncio.sleep(0.5)
    assert (await p.state())["inflight"]["blue"] == 1
    for _ in range(40):
        await asyncio.sleep(0.1)
        if (await p.state())["inflight"]["blue"] == 0:
            break
    else:
        raise AssertionError("a client that reads nothing still holds its exchange")
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        async with asyncio.timeout(5):
            while await c.reader.read(1 << 20):  # what was already in flight, then the reset
                pass
            raise asyncio.IncompleteReadError(b"", None)  # a clean end would be wrong too
    assert (await get(p.production)).status == 200


async def test_connection_cap_per_listener_answers_503(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--max-connections", "5")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    held = [await Client.open(p.production) for _ in range(5)]
    for c in held:
        assert (await c.request()).status == 200
    over = await Client.open(p.production)
    resp = await over.request()
    assert resp.status == 503 and resp.headers["retry-after"] == "1" and await over.closed()
    assert (await get(p.test)).status == 200  # the cap is per listener
    assert (await held[0].request()).status == 200  # the held connections are unaffected
    held.pop().close()
    await asyncio.sleep(0.1)
    assert (await get(p.production)).status == 200
    for c in held:
        c.close()


async def test_descriptor_exhaustion_leaves_production_and_admin_answering(start_proxy: StartProxy,
                                                                          upstreams: Upstreams) -> None:
    """RLIMIT_NOFILE 256 and 400 silent clients plus 40 silent admin connections: production still accepts
    (a 503 while full, 200 again after), the admin API still answers."""
    p = await start_proxy("--header-timeout", "30", nofile=256)
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    port = int(p.admin.rsplit(":", 1)[1])
    silent = [await Client.open(p.production) for _ in range(400)]
    silent += [await Client.open(port) for _ in range(40)]
    await asyncio.sleep(0.3)
    async with asyncio.timeout(5):
        assert (await p.state())["weights"]["blue"] == 100
        resp = await get(p.production)
    assert resp.status in (200, 503)
    if resp.status == 503:
        assert resp.headers["retry-after"] == "1"
    for s in silent:
        s.close()
    await asyncio.sleep(0.5)
    async with asyncio.timeout(5):
        assert (await get(p.production)).status == 200
        assert (await p.state())["weights"]["blue"] == 100


# -- 4. pipelining --------------------------------------------------------------------------------------------

async def test_five_pipelined_requests_last_one_close(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    await c.send(b"GET /slow?seconds=0.1&chunks=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                 b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                 b"GET /status/404 HTTP/1.1\r\nHost: t\r\n\r\n"
                 b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"
                 b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                 b"GET /status/500 HTTP/1.1\r\nHost: t\r\n\r\n")  # after the close: never read
    got = [await c.response(), await c.response("POST"), await c.response(), await c.response("HEAD"),
           await c.response()]
    assert [(r.status, r.body) for r in got] == [(200, b"blue-0\nblue-1\n"), (200, b"hello"), (404, b""),
                                                (200, b""), (200, b"blue\n")]
    assert got[-1].headers["connection"] == "close" and "connection" not in got[0].headers
    assert await c.closed()


# -- 5. request hygiene (RFC 9112) -----------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: y\r\n\r\n",
    b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET ftp://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET http:///nohost HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: user@app.example\r\n\r\n",  # Host values: host and port, nothing else
    b"GET / HTTP/1.1\r\nHost: app.example/evil\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n",
    b"GET http://a\\b/ HTTP/1.1\r\nHost: a\r\n\r\n",
])
async def test_request_hygiene_400(proxy: Proxy, raw: bytes) -> None:
    c = await Client.open(proxy.production)
    await c.send(raw)
    resp = await c.response()
    assert resp.status == 400 and await c.closed()
    assert (await get(proxy.production)).status == 200


async def test_http2_in_http1_framing_gets_505(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)  # llhttp reads 2.0 as a version (other majors are already a 400)
    await c.send(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
    assert (await c.response()).status == 505 and await c.closed()


@pytest.mark.parametrize("host", [b"app.example", b"app.example:8080", b"127.0.0.1:80", b"[::1]:8080",
                                  b"my_host.internal", b"xn--bcher-kva.example", b""])
async def test_valid_hosts_pass(proxy: Proxy, host: bytes) -> None:
    seen = await seen_upstream(proxy, b"GET /headers HTTP/1.1\r\nHost: %b\r\n\r\n" % host)
    assert [v for n, v in seen["headers"] if n.lower() == "host"] == [host.decode()]  # type: ignore[attr-defined]


async def seen_upstream(proxy: Proxy, raw: bytes) -> dict[str, object]:
    c = await Client.open(proxy.production)
    await c.send(raw)
    resp = await c.response()
    c.close()
    assert resp.status == 200, resp
    seen: dict[str, object] = json.loads(resp.body)
    return seen


async def test_connection_header_cannot_remove_host_or_length(proxy: Proxy) -> None:
    seen = await seen_upstream(proxy, b"GET /headers HTTP/1.1\r\nHost: app.example\r\nConnection: close, Host\r\n\r\n")
    assert [v for n, v in seen["headers"] if n.lower() == "host"] == ["app.example"]  # type: ignore[attr-defined]
    # a dropped Content-Length would turn the body into a second request upstream
    inner = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
    seen = await seen_upstream(proxy, b"POST /headers HTTP/1.1\r\nHost: a\r\nConnection: Content-Length\r\n"
                                      b"Content-Length: %d\r\n\r\n%b" % (len(inner), inner))
    assert seen["body"] == len(inner)


async def test_absolute_form_target_wins_over_host(proxy: Proxy) -> None:
    seen = await seen_upstream(proxy, b"GET http://user@app.example:8080/headers?x=1 HTTP/1.1\r\n"
                                      b"Host: other.example\r\n\r\n")
    hosts = [v for n, v in seen["headers"] if n.lower() == "host"]  # type: ignore[attr-defined]
    assert seen["target"] == "/headers?x=1" and hosts == ["app.example:8080"]
    seen = await seen_upstream(proxy, b"GET HTTP://app.example?dump=1 HTTP/1.1\r\nHost: app.example\r\n\r\n")
    assert seen["target"] == "/?dump=1"


async def test_http10_without_host_still_served(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    await c.send(b"GET / HTTP/1.0\r\n\r\n")
    assert (await c.response()).body == b"blue\n"


# -- 6. truncation looks like truncation -----------------------------------------------------------------------

async def test_close_delimited_body_cut_by_reset_reaches_client_as_an_error(proxy: Proxy) -> None:
    c = await Client.open(proxy.production)
    await c.send(b"GET /nolength-reset HTTP/1.1\r\nHost: t\r\n\r\n")
    status, headers = parse_head(await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5))
    assert status == 200 and headers["connection"] == "close"
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(5):
            while await c.reader.read(65536):
                pass
    clean = await get(proxy.production, "/nolength")  # a clean close is still a whole body
    assert clean.body == b"blue" * 100


# -- 7. a stalled upstream body is timed out ---------------------------------------------------------------------

async def test_stalled_upstream_body_is_cut(start_proxy: StartProxy, upstreams: Upstreams) -> None:
    p = await start_proxy("--upstream-timeout", "1")
    await p.backends(blue=[upstreams.blue[0].addr], green=[upstreams.green[0].addr])
    c = await Client.open(p.production)
    await c.send(b"GET /stall HTTP/1.1\r\nHost: t\r\n\r\n")
    status, _ = parse_head(await asyncio.wait_for(c.reader.readuntil(b"\r\n\r\n"), 5))
    assert status == 200 and await asyncio.wait_for(c.reader.readexactly(50), 5) == b"s" * 50
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(5):
            await c.reader.read(65536)
    assert loop.time() - t0 < 2.5
    assert (await p.state())["inflight"]["blue"] == 0
    assert 'turnout_proxy_upstream_errors_total{listener="production",color="blue"} 1' in await p.metrics()


# -- 8. instances killed under load ------------------------------------------------------------------------------

class Instance:
    """An upstream in its own process, to be SIGKILLed and started again on the same port."""

    def __init__(self, name: str) -> None:
        self.name, self.port = name, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(INSTANCE), str(self.port), self.name],
                                     stdout=subprocess.PIPE)
        assert self.proc.stdout is not None and self.proc.stdout.readline() == b"ready\n"

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)


async def test_instances_killed_under_load_fail_no_idempotent_request(start_proxy: StartProxy,
                                                                      upstreams: Upstreams) -> None:
    instances = [Instance("b1"), Instance("b2")]
    for i in instances:
        i.start()
    try:
        p = await start_proxy()
        await p.backends(blue=[f"127.0.0.1:{i.port}" for i in instances], green=[upstreams.green[0].addr])
        loop = asyncio.get_running_loop()
        stop = False
        failures: list[str] = []
        done = 0

        async def load(k: int) -> None:
            nonlocal done
            c = await Client.open(p.production)
            n = 0
            while not stop and n < 100_000:
                n += 1
                method, body = (("PUT", b"x" * 100), ("DELETE", None), ("GET", None))[n % 3]
                try:
                    r = await c.request(method, "/", body=body, timeout=5)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    failures.append(f"{k}/{n} {method}: {exc!r}")
                    c.close()
                    c = await Client.open(p.production)
                    continue
                want = b" %d\n" % (len(body) if body else 0)
                if r.status != 200 or r.color != "blue" or not r.body.endswith(want):
                    failures.append(f"{k}/{n} {method}: {r.status} {r.color} {r.body!r}")
                if r.headers.get("connection") == "close":
                    c.close()
                    c = await Client.open(p.production)
                done += 1
            c.close()

        workers = [asyncio.create_task(load(k)) for k in range(12)]
        await asyncio.sleep(0.3)
        t0 = loop.time()
        for kill in range(20):
            victim = instances[kill % 2]
            await asyncio.to_thread(victim.kill)
            await asyncio.sleep(0.15)
            await asyncio.to_thread(victim.start)
            await asyncio.sleep(0.15)
        stop = True
        await asyncio.gather(*workers)
        assert failures == [], failures[:10]
        assert done > 500 and loop.time() - t0 < 60
    finally:
        for i in instances:
            if i.proc is not None and i.proc.poll() is None:
                i.kill()
