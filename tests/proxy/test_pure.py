"""Table tests for the pure parts: header stripping, validation, routing snapshot arithmetic."""

from __future__ import annotations

import pytest

from turnout.proxy.exchange import strip_hop
from turnout.proxy.framing import CHUNKED, CLOSE, LENGTH, NONE, Chunks, body_mode
from turnout.proxy.state import Router, parse_backends, parse_weights


@pytest.mark.parametrize(("head", "want"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5", b"HTTP/1.1 200 OK\r\nContent-Length: 5"),
    (b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 5", b"HTTP/1.1 200 OK\r\nContent-Length: 5"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close", b"HTTP/1.1 200 OK\r\nContent-Length: 5"),
    (b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nTE: x\r\nTrailer: y\r\nUpgrade: z\r\nProxy-Connection: a",
     b"HTTP/1.1 200 OK"),
    (b"HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nX-Keep: 2", b"HTTP/1.1 200 OK\r\nX-Keep: 2"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTEa: 1", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
                                                                 b"\r\nTEa: 1"),
    (b"HTTP/1.1 200 OK\r\nX-Connection: 1", b"HTTP/1.1 200 OK\r\nX-Connection: 1"),
])
def test_strip_hop(head: bytes, want: bytes) -> None:
    assert strip_hop(head, head.lower()) == want


@pytest.mark.parametrize(("obj", "want"), [
    ({"blue": 100, "green": 0}, (100, 0)),
    ({"green": 100}, (0, 100)),
    ({"blue": 37, "green": 63}, (37, 63)),
    ({"blue": 50, "green": 49}, None),
    ({"blue": 101, "green": -1}, None),
    ({"blue": "50", "green": 50}, None),
    ({"blue": False, "green": 100}, None),
    ({"blue": 100, "purple": 0}, None),
    ({}, None),
    ([100, 0], None),
])
def test_parse_weights(obj: object, want: tuple[int, int] | None) -> None:
    if want is None:
        with pytest.raises(ValueError, match="weights"):
            parse_weights(obj)
    else:
        assert parse_weights(obj) == want


@pytest.mark.parametrize(("obj", "ok"), [
    ({"blue": ["127.0.0.1:80"], "green": []}, True),
    ({"green": ["localhost:8080", "[::1]:9000"]}, True),
    ({"blue": ["127.0.0.1"]}, False),
    ({"blue": ["127.0.0.1:0"]}, False),
    ({"blue": ["127.0.0.1:70000"]}, False),
    ({"blue": [":80"]}, False),
    ({"blue": "127.0.0.1:80"}, False),
    ({"blue": [80]}, False),
    ({"red": []}, False),
])
def test_parse_backends(obj: object, ok: bool) -> None:
    if ok:
        assert parse_backends(obj) == obj
    else:
        with pytest.raises(ValueError, match="backends"):
            parse_backends(obj)


@pytest.mark.parametrize(("weights", "test", "greens_per_100"), [
    ((100, 0), "green", 0), ((0, 100), "blue", 100), ((90, 10), "green", 10), ((50, 50), "green", 50),
    ((49, 51), "blue", 51), ((1, 99), "blue", 99),
])
def test_router_split_and_test_color(weights: tuple[int, int], test: str, greens_per_100: int) -> None:
    r = Router()
    r.apply(weights, {"blue": ["127.0.0.1:1"], "green": ["127.0.0.1:2"]})
    assert r.snap.test.name == test
    picks = [r.production().name for _ in range(300)]
    assert picks.count("green") == 3 * greens_per_100
    assert all(picks[i : i + 100].count("green") == greens_per_100 for i in (0, 100, 200))


def test_backend_update_keeps_other_color_and_retires_removed() -> None:
    r = Router()
    r.apply(None, {"blue": ["127.0.0.1:1", "127.0.0.1:2"], "green": ["127.0.0.1:3"]})
    old = r.registry["127.0.0.1:2"]
    snap = r.apply(None, {"blue": ["127.0.0.1:1"]})
    assert [b.addr for b in snap.colors[0].backends] == ["127.0.0.1:1"]
    assert [b.addr for b in snap.colors[1].backends] == ["127.0.0.1:3"]
    assert old.retired and "127.0.0.1:2" not in r.registry
    assert snap.generation == 2


@pytest.mark.parametrize(("head", "status", "head_request", "want"), [
    (b"http/1.1 200 ok\r\ncontent-length: 5", 200, False, (LENGTH, 5)),
    (b"http/1.1 200 ok\r\ncontent-length:  007 ", 200, False, (LENGTH, 7)),
    (b"http/1.1 200 ok\r\ncontent-length: 0", 200, False, (NONE, 0)),
    (b"http/1.1 200 ok\r\ntransfer-encoding: chunked", 200, False, (CHUNKED, 0)),
    (b"http/1.1 200 ok\r\ntransfer-encoding: gzip, chunked", 200, False, (CHUNKED, 0)),
    (b"http/1.1 200 ok\r\ntransfer-encoding: chunked, gzip", 200, False, (CLOSE, 0)),
    (b"http/1.1 200 ok\r\nx-a: 1", 200, False, (CLOSE, 0)),
    (b"http/1.1 200 ok\r\ncontent-length: 5", 200, True, (NONE, 0)),  # an answer to HEAD
    (b"http/1.1 204 no content\r\ncontent-length: 5", 204, False, (NONE, 0)),
    (b"http/1.1 304 not modified\r\ntransfer-encoding: chunked", 304, False, (NONE, 0)),
    (b"http/1.1 200 ok\r\nx-content-length: 5", 200, False, (CLOSE, 0)),  # not the header: a suffix of another
    (b"http/1.1 200 ok\r\ncontent-length: 5\r\ncontent-length: 5", 200, False, None),
    (b"http/1.1 200 ok\r\ncontent-length: 5\r\ntransfer-encoding: chunked", 200, False, None),
    (b"http/1.1 200 ok\r\ntransfer-encoding: chunked\r\ntransfer-encoding: chunked", 200, False, None),
    (b"http/1.1 200 ok\r\ncontent-length: -1", 200, False, None),
    (b"http/1.1 200 ok\r\ncontent-length: 1 2", 200, False, None),
    (b"http/1.1 200 ok\r\ncontent-length: 0x10", 200, False, None),
    (b"http/1.1 200 ok\r\ncontent-length: 9999999999999999999", 200, False, None),
])
def test_body_mode(head: bytes, status: int, head_request: bool, want: tuple[int, int] | None) -> None:
    if want is None:
        with pytest.raises(ValueError):
            body_mode(head, status, head_request)
    else:
        assert body_mode(head, status, head_request) == want


@pytest.mark.parametrize(("pieces", "ends"), [
    ([b"5\r\nhello\r\n0\r\n\r\n"], [15]),
    ([b"5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK"], [15]),  # the end is found; what follows is not this body's
    ([b"5;ext=1\r\nhello\r\n", b"0\r\nTrailer: x\r\n\r\n"], [-1, 17]),
    ([b"5\r", b"\nhel", b"lo\r\n0", b"\r\n", b"\r", b"\n"], [-1, -1, -1, -1, -1, 1]),
    ([b"A\r\n0123456789\r\n0\r\n\r\n"], [20]),
    ([b"1000\r\n" + b"x" * 100], [-1]),
])
def test_chunked_end(pieces: list[bytes], ends: list[int]) -> None:
    c = Chunks()
    assert [c.end(p) for p in pieces] == ends


@pytest.mark.parametrize("piece", [b"zz\r\n", b"\r\n", b"-5\r\n", b"0x5\r\n", b"1" * 16 + b"\r\n", b"5" * 9000])
def test_chunked_bad_size(piece: bytes) -> None:
    with pytest.raises(ValueError):
        Chunks().end(piece)
