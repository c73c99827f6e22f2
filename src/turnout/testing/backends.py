"""HTTP backends that answer with their color, for router tests: `blue\\n` / `green\\n` on `/`,
`<color> <port>\\n` on `/whoami`, `<color> <body bytes read>\\n` on `/upload`, a response streamed
over ~1 s on `/slow`, a 503 on `/fail`, and `/sleep/<seconds>` answers after that long."""

from __future__ import annotations

import asyncio
import threading

import httpx

from turnout.model import Color, Endpoint

SLOW_CHUNKS, SLOW_INTERVAL = 10, 0.1  # /slow takes ~1 s: long enough to switch while it is in flight


async def _serve(color: Color, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    port = writer.get_extra_info("sockname")[1]
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            method_path = head.split(b"\r\n", 1)[0].decode().split(" ")
            path = method_path[1] if len(method_path) > 1 else "/"
            length = 0
            if b"content-length:" in lower:
                length = int(lower.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                await reader.readexactly(length)
            close = b"connection: close" in lower or method_path[-1] == "HTTP/1.0"
            conn = b"Connection: close\r\n" if close else b""
            if path == "/slow":
                chunk = f"{color}\n".encode() * 20
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n%sContent-Length: %d\r\n\r\n"
                             % (conn, len(chunk) * SLOW_CHUNKS))
                for _ in range(SLOW_CHUNKS):
                    writer.write(chunk)
                    await writer.drain()
                    await asyncio.sleep(SLOW_INTERVAL)
            else:
                status = b"200 OK"
                if path.startswith("/sleep/"):  # answer after that many seconds
                    await asyncio.sleep(float(path.removeprefix("/sleep/")))
                elif path == "/fail":
                    status = b"503 Service Unavailable"
                text = {"/whoami": f"{color} {port}\n", "/health/ready": "ok\n",
                        "/upload": f"{color} {length}\n"}.get(path, f"{color}\n")
                body = text.encode()
                writer.write(b"HTTP/1.1 %s\r\nContent-Type: text/plain\r\n%sContent-Length: %d\r\n\r\n%s"
                             % (status, conn, len(body), body))
                await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass
    finally:
        writer.close()


class ColorBackends:
    """HTTP servers that answer with their color, on free loopback ports, in a thread of their own
    (so a test that blocks its own event loop cannot stall them)."""

    def __init__(self, per_color: int = 2) -> None:
        self.per_color = per_color
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="color-backends", daemon=True)
        self.servers: list[asyncio.Server] = []
        self.endpoints: dict[Color, list[Endpoint]] = {Color.BLUE: [], Color.GREEN: []}

    def add(self, color: Color) -> Endpoint:
        async def start() -> asyncio.Server:
            return await asyncio.start_server(lambda r, w: _serve(color, r, w), "127.0.0.1", 0)

        server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(5)
        self.servers.append(server)
        endpoint = Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])
        self.endpoints[color].append(endpoint)
        return endpoint

    def __enter__(self) -> ColorBackends:
        self.thread.start()
        for color in Color:
            for _ in range(self.per_color):
                self.add(color)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


async def colors(client: httpx.AsyncClient, url: str, n: int, path: str = "/") -> list[str]:
    """The body of `n` sequential requests (one keep-alive connection); a non-200 fails the test."""
    out = []
    for _ in range(n):
        r = await client.get(url + path)
        assert r.status_code == 200, f"{url}{path} answered {r.status_code}: {r.text[:200]}"
        out.append(r.text.strip())
    return out
