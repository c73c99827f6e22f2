"""Local webhook receivers on loopback for the notification tests: one that records every request
and answers from a script of statuses, one that accepts connections and never answers, and a port
where nothing listens."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from turnout.infra.procs import free_port


@dataclass
class Received:
    at: float  # time.monotonic() when the request was read
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order; 200 once used up
    headers: dict[str, str] = field(default_factory=dict)  # sent with every non-2xx answer

    def wait(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.requests)


@contextmanager
def receiver(statuses: list[int] | None = None, headers: dict[str, str] | None = None) -> Iterator[Receiver]:
    rec = Receiver("", statuses=list(statuses or []), headers=dict(headers or {}))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                rec.requests.append(Received(time.monotonic(), self.path, dict(self.headers.items()), body))
                status = rec.statuses.pop(0) if rec.statuses else 200
            self.send_response(status)
            if status >= 300:
                for k, v in rec.headers.items():
                    self.send_header(k, v)
            reply = b"ok" if status < 300 else b"unavailable"
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def black_hole() -> Iterator[str]:
    """A port that accepts TCP connections (the kernel does, from the listen backlog) and never
    answers: a receiver that hangs."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    finally:
        sock.close()


def refused_url() -> str:
    """A loopback port nothing listens on: every connection is refused. Outside the ephemeral range,
    or a connect() could be given that very port as its source and connect to itself."""
    return f"http://127.0.0.1:{free_port()}/hook"
