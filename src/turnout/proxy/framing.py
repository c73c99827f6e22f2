"""Where an upstream response ends, computed from its head, so no byte past the end reaches a client.

llhttp (httptools) validates every response byte we forward, but it cannot say *where* in a buffer a message
ended. These helpers do: `body_mode` reads the framing from the lowered head, `Chunks` finds the end of a
chunked body. The upstream protocol feeds llhttp exactly the bytes up to that end and requires llhttp to agree
that the message is complete there; anything after it is bytes nobody asked for, and the connection is dropped.
Pure functions of bytes: the fuzz harness (benchmarks/fuzz_framing.py) drives them directly.
"""

from __future__ import annotations

NONE, LENGTH, CHUNKED, CLOSE = 0, 1, 2, 3  # no body; Content-Length; chunked; until the upstream closes
MAX_LINE = 8192  # a chunk-size or trailer line longer than this is not an honest upstream


def body_mode(low: bytes, status: int, head_request: bool) -> tuple[int, int]:
    """(mode, length) of a response body from its lowered head (RFC 9112 §6.3); ValueError if ambiguous."""
    if head_request or status in (204, 304) or status < 200:
        return NONE, 0
    te = low.find(b"\r\ntransfer-encoding:")
    cl = low.find(b"\r\ncontent-length:")
    if te >= 0:
        if cl >= 0 or low.find(b"\r\ntransfer-encoding:", te + 20) >= 0:
            raise ValueError("both Transfer-Encoding and Content-Length, or Transfer-Encoding twice")
        end = low.find(b"\r\n", te + 20)
        value = low[te + 20 : end if end >= 0 else len(low)]
        # chunked must be the final coding to delimit the body; otherwise it runs until the close
        return (CHUNKED, 0) if value.rsplit(b",", 1)[-1].strip() == b"chunked" else (CLOSE, 0)
    if cl >= 0:
        if low.find(b"\r\ncontent-length:", cl + 17) >= 0:
            raise ValueError("Content-Length twice")
        end = low.find(b"\r\n", cl + 17)
        value = low[cl + 17 : end if end >= 0 else len(low)].strip(b" \t")
        if not value.isdigit() or len(value) > 18:
            raise ValueError("bad Content-Length")
        n = int(value)
        return (LENGTH, n) if n else (NONE, 0)
    return CLOSE, 0


class Chunks:
    """Finds the end of a chunked body fed in pieces; cost is per chunk, not per byte."""

    __slots__ = ("left", "line", "trailer")

    def __init__(self) -> None:
        self.left = 0  # bytes of chunk data (+ its CRLF) still to skip
        self.line = b""  # an unfinished size or trailer line
        self.trailer = False  # after the last (zero) chunk: trailer lines up to an empty one

    def end(self, data: bytes, pos: int = 0) -> int:
        """Offset in `data` just past the end of the body, or -1 if it goes on. ValueError on bad framing
        (llhttp, fed the same bytes, is the strict judge; this only has to find boundaries honestly)."""
        n = len(data)
        while pos < n:
            if self.left:
                take = min(self.left, n - pos)
                pos += take
                self.left -= take
                continue
            i = data.find(b"\n", pos)
            if i < 0:
                self.line += data[pos:]
                if len(self.line) > MAX_LINE:
                    raise ValueError("chunk line too long")
                return -1
            line = self.line + data[pos:i] if self.line else data[pos:i]
            self.line = b""
            pos = i + 1
            if len(line) > MAX_LINE:
                raise ValueError("chunk line too long")
            if self.trailer:
                if line in (b"", b"\r"):
                    return pos
                continue
            size = line.split(b";", 1)[0].strip(b" \t\r")
            if not size or len(size) > 15 or size.strip(b"0123456789abcdefABCDEF"):
                raise ValueError("bad chunk size")
            k = int(size, 16)
            if k:
                self.left = k + 2
            else:
                self.trailer = True
        return -1
