"""nginx driver: a Lua balancer picks the color per request from a shared dict; no reload on a switch.

A plain `nginx -s reload` loses requests on keep-alive connections (the old workers close idle
connections while a client is already sending the next request; 3-117 lost per reload measured
here) and can truncate in-flight proxied responses. So the switch never reloads: turnout PUTs the new
split to a Lua handler on the admin listener, which stores it in a `lua_shared_dict` that every
worker's `balancer_by_lua` reads on the next request. The same state goes to `state.txt`, which
nginx loads at start, so a restart (or a reload by someone else) serves the same split.
Needs Debian's `libnginx-mod-http-lua` (and `lua-resty-core`, its dependency).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from turnout.config import Duration
from turnout.errors import RouterError
from turnout.infra.files import atomic_write, secret_file, set_aside
from turnout.model import Color, ColorTraffic, Endpoint, RouteState, Traffic, Weights
from turnout.routers.endpoints import resolve_all
from turnout.routers.nginx.conf import LUA, render_config
from turnout.routers.owned import OwnedRouter, http


class NginxOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dir: str | None = Field(default=None, description="config, Lua module, state, logs (default: <state>/nginx)")
    binary: str = "nginx"
    modules: str = Field(default="/usr/lib/nginx/modules",
                         description="where ndk_http_module.so and ngx_http_lua_module.so live")
    workers: Literal["auto"] | Annotated[int, Field(ge=1, le=256)] = "auto"
    keepalive: int = Field(default=64, ge=1, le=4096, description="idle upstream connections kept per worker")
    timeout_server: Duration = 60.0
    max_body_size: str = Field(
        default="0", pattern=r"^[0-9]+[kKmMgG]?$",
        description="nginx's client_max_body_size for production and test: the largest request body "
                    "forwarded, e.g. 10m (0: no limit, as the other routers; the app decides). "
                    "nginx's own default, 1m, would answer larger uploads 413")


def parse_state(text: str) -> tuple[Weights, Color, dict[Color, tuple[Endpoint, ...]]]:
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    try:
        green = int(values["green"])
        test = Color(values["test"])
        peers = {c: tuple(Endpoint.parse(a) for a in values[f"peers.{c}"].split(",") if a) for c in Color}
        return Weights(100 - green, green), test, peers
    except (KeyError, ValueError) as exc:
        raise RouterError(f"nginx answered an unreadable turnout state ({exc}): {text[:200]!r}") from None


def state_body(**values: str) -> bytes:
    return "".join(f"{k.replace('_', '.')}={v}\n" for k, v in values.items()).encode()


class NginxRouter(OwnedRouter[NginxOptions]):
    kind = "nginx"
    can_split = True
    Options = NginxOptions

    async def _prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        wanted = resolve_all(backends)
        if self.process.pid is None or not await self._answers():
            await self._start()
        peers = {f"peers_{c}": ",".join(e.address for e in eps) for c, eps in wanted.items()}
        await self._put(state_body(**peers))

    async def route(self, weights: Weights) -> None:
        await self._put(state_body(green=str(weights.green), test=weights.dominant.other.value))
        self._seen = weights

    async def observe(self) -> RouteState:
        weights, test, peers = parse_state(await self._call("GET", b""))
        self._seen = weights
        return RouteState(weights=weights, test_color=test, backends=peers,
                          production_url=f"http://{self.production}", test_url=f"http://{self.test}")

    async def release(self) -> None:
        await self.process.stop(self.drain, signal.SIGQUIT)  # SIGQUIT = graceful: in-flight requests finish

    # -- helpers -------------------------------------------------------------------------------
    async def _put(self, body: bytes) -> None:
        served = await self._call("PUT", body)
        parse_state(served)
        atomic_write(self.folder / "state.txt", served)  # what a restarted nginx loads

    async def traffic(self) -> Traffic:
        text = await self._call("GET", b"", path="/turnout/traffic")
        at = time.monotonic()
        try:
            rows = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
            bounds = tuple(float(x) for x in rows["bounds"].split(","))
            colors = {}
            for color in Color:
                requests, errors, *buckets = (int(x) for x in rows[color.value].split(","))
                colors[color] = ColorTraffic(requests, errors, tuple(buckets))
        except (KeyError, ValueError) as exc:
            raise RouterError(f"nginx answered unreadable traffic counters ({exc}): {text[:200]!r}") from None
        return Traffic(at, bounds, colors)

    async def _call(self, method: str, body: bytes, path: str = "/turnout/state") -> str:
        token_file = self.folder / "admin.token"
        token = token_file.read_text(errors="replace").strip() if token_file.exists() else ""
        try:
            status, data = await http(self.admin, method, path, body=body,
                                      headers={"Authorization": f"Bearer {token}"})
        except (OSError, TimeoutError) as exc:
            raise RouterError(f"nginx is not answering on its turnout admin listener {self.admin}: "
                              f"{exc or 'timeout'}",
                              hint="an owned nginx is started again by the next prepare") from None
        if status != 200:
            raise RouterError(f"nginx refused {method} {path}: HTTP {status} {data[:200]!r}")
        return data.decode()

    async def _answers(self) -> bool:
        try:
            await self._call("GET", b"")
        except RouterError:
            return False
        return True

    def _check_state(self) -> None:
        """state.txt is what a restarted nginx serves: a damaged one is set aside (kept) and written again with
        the split this driver last saw, so nginx never starts on its default color (all to blue)."""
        path = self.folder / "state.txt"
        try:
            parse_state(path.read_text())
            return
        except FileNotFoundError:
            if self._seen is None:
                return  # a first start: the agent routes explicitly
        except (OSError, ValueError, RouterError):
            set_aside(path)
        w = self.restart_split()
        atomic_write(path, state_body(green=str(w.green), test=w.dominant.other.value, peers_blue="",
                                      peers_green="").decode())

    async def _start(self) -> None:
        binary = shutil.which(self.options.binary)
        if binary is None:
            raise RouterError(f"{self.options.binary} not found", hint="run scripts/install-servers.sh")
        modules = Path(self.options.modules)
        if not (modules / "ngx_http_lua_module.so").exists():
            raise RouterError(f"nginx's Lua module is missing in {modules}",
                              hint="apt-get install libnginx-mod-http-lua (or run scripts/install-servers.sh)")
        await self.process.stop(0)  # a leftover that no longer answers
        self.folder.mkdir(parents=True, exist_ok=True)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.folder / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        secret_file(self.folder / "admin.token")
        self._check_state()
        atomic_write(self.folder / "turnout.lua", LUA)
        conf = self.folder / "nginx.conf"
        atomic_write(conf, render_config(
            folder=self.folder, production=self.production, test=self.test, admin=self.admin,
            workers=str(self.options.workers), keepalive=self.options.keepalive,
            timeout_server=self.options.timeout_server, lua_modules=modules,
            max_body_size=self.options.max_body_size))
        argv = [binary, "-p", str(self.folder), "-e", "stderr", "-c", str(conf)]
        check = subprocess.run([*argv, "-t", "-q"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RouterError(f"nginx rejected the generated config {conf}: {check.stderr.strip()}")
        self.process.start(argv)
        await self.process.wait_ready(self._answers)
