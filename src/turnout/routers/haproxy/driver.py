"""HAProxy driver: switch and weights through the Runtime API (no reload), mirrored to files.

Owned mode (default): turnout generates the config, starts HAProxy in master-worker mode and
rewrites the config after every change, so a reload or restart serves the same split.
Attach mode (`options.socket`): HAProxy is someone else's; its config contains turnout's frontends,
backends and maps (docs/routers.md), turnout changes it only through the socket plus the map files
(and the server-state file, if given) that HAProxy reads at start.

Production picks green for `rand(100) < weights-map[green]`, else blue; the test frontend uses the
backend named in the test map. Each color is a backend of fixed server slots: a new instance set is
`set server addr` + `state ready` on free slots, then `state maint` on the old ones (in-flight
requests on those finish).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from turnout.config import Duration, RouterConfig
from turnout.errors import ConfigError, RouterError
from turnout.infra.files import atomic_write, set_aside
from turnout.locations import socket_path
from turnout.model import Color, ColorTraffic, Endpoint, RouteState, Traffic, Weights
from turnout.routers.endpoints import resolve_all
from turnout.routers.haproxy import runtime_api as api
from turnout.routers.owned import OwnedRouter

EMPTY = Endpoint("127.0.0.1", 1)


class HAProxyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dir: str | None = Field(default=None,
                            description="owned mode: config, maps, sockets, log (default: <state>/haproxy)")
    socket: str | None = Field(default=None,
                               description="attach to a running HAProxy through this stats socket (admin level)")
    server_state_file: str | None = Field(default=None,
                                          description="attach mode: the `server-state-file` its config loads")
    binary: str = "haproxy"
    slots: int = Field(default=16, ge=1, le=1000,
                       description="server slots per color = most instances a color can have")
    maxconn: int = Field(default=4000, ge=1, le=9000, description="higher needs a higher fd limit than we have")
    threads: int | None = Field(default=None, ge=1, le=64)
    timeout_server: Duration = 60.0
    timeout_connect: Duration = Field(default=0.05, gt=0,
                                      description="to an instance; also how long a request waits before its "
                                                  "one retry (another instance if there is one)")


def plan(backend: str, current: Sequence[api.Slot], wanted: Sequence[Endpoint]) -> tuple[list[str], list[api.Slot]]:
    """Commands that make `backend` serve exactly `wanted`: new servers ready first, old ones to maint after."""
    wanted = list(dict.fromkeys(wanted))
    keep = {}
    for slot in current:
        if slot.serving and slot.endpoint in wanted and slot.endpoint not in keep:
            keep[slot.endpoint] = slot.name
    free = [s for s in current if s.name not in keep.values()]
    # Prefer a slot that already has the address, then idle slots: a serving slot is re-pointed only
    # when no idle one is left (its old instance then stops getting new requests at that moment).
    free.sort(key=lambda s: (s.endpoint not in wanted, s.serving))
    enable, disable, final = [], [], {s.name: s for s in current}
    for endpoint in (e for e in wanted if e not in keep):
        if not free:
            raise ConfigError(f"{backend} needs {len(wanted)} servers, more than its {len(current)} slots",
                              key=("router", "options", "slots"))
        slot = free.pop(0)
        if slot.endpoint != endpoint:
            enable.append(f"set server {backend}/{slot.name} addr {endpoint.host} port {endpoint.port}")
        enable.append(f"set server {backend}/{slot.name} state ready")
        final[slot.name] = api.Slot(slot.name, endpoint, True)
    for slot in free:
        if slot.serving:
            disable.append(f"set server {backend}/{slot.name} state maint")
            final[slot.name] = api.Slot(slot.name, slot.endpoint, False)
    return enable + disable, list(final.values())


class HAProxyRouter(OwnedRouter[HAProxyOptions]):
    kind = "haproxy"
    can_split = True
    Options = HAProxyOptions

    def __init__(self, *, section: RouterConfig, options: HAProxyOptions, folder: Path) -> None:
        super().__init__(section=section, options=options, folder=folder)
        self.owned = options.socket is None  # else attached: someone else's HAProxy, driven over its socket
        self.socket = options.socket or str(socket_path(folder / "admin.sock"))
        self.master_socket = str(socket_path(folder / "master.sock"))

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.owned else None

    # -- the four protocol calls ---------------------------------------------------------------
    async def _prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        wanted = resolve_all(backends)
        for color, endpoints in wanted.items():
            if len(set(endpoints)) > self.options.slots:
                raise ConfigError(f"{color} has {len(set(endpoints))} instances, more than slots = "
                                  f"{self.options.slots}", key=("router", "options", "slots"))
        if self.owned and not await self._answers():
            await self._start(wanted)
            return
        state = {}
        for color in Color:
            current = await self._servers(api.backend(color))
            if color not in wanted:  # not given: leave it as it is
                state[color] = current
                continue
            commands, state[color] = plan(api.backend(color), current, wanted[color])
            commands += plan(api.test_backend(color), await self._servers(api.test_backend(color)), wanted[color])[0]
            for line in commands:
                out = await self._cmd(line)
                if out.strip() and "changed" not in out:
                    raise RouterError(f"HAProxy refused `{line}`: {out.strip()}")
        await self._persist_servers(state)

    async def route(self, weights: Weights) -> None:
        weights_map, test_map = await self._maps()
        idle = weights.dominant.other
        out = await self._cmd(f"set map {weights_map} green {weights.green};"
                              f"set map {test_map} test {api.test_backend(idle)}")
        if out.strip():
            raise RouterError(f"HAProxy refused the switch: {out.strip()}")
        # The same change in the files HAProxy reads at start, so a reload keeps it.
        self._seen = weights
        text_w, text_t = api.render_maps(weights.green, idle)
        atomic_write(Path(weights_map), text_w)
        atomic_write(Path(test_map), text_t)

    async def observe(self) -> RouteState:
        weights_map, test_map = await self._maps()
        green = api.parse_map(await self._cmd(f"show map {weights_map}")).get("green")
        test = api.parse_map(await self._cmd(f"show map {test_map}")).get("test")
        test_color = api.color_of_test_backend(test or "")
        if green is None or not green.isdigit() or test_color is None:
            raise RouterError(f"HAProxy's turnout maps are incomplete: green={green!r} test={test!r}")
        backends = {}
        for color in Color:
            serving = [s.endpoint for s in await self._servers(api.backend(color)) if s.serving]
            for_test = {s.endpoint for s in await self._servers(api.test_backend(color)) if s.serving}
            # Both backends of a color must serve the same instances; where they differ, only the
            # common part is reported, so the difference shows as drift and prepare() repairs it.
            backends[color] = tuple(e for e in serving if e in for_test)
        self._seen = Weights(100 - int(green), int(green))
        return RouteState(
            weights=self._seen,
            test_color=test_color,
            backends=backends,
            production_url=f"http://{self.production}",
            test_url=f"http://{self.test}",
        )

    async def traffic(self) -> Traffic:
        """Requests and 5xx from `show stat` (the production backends: HAProxy's own 503s count
        too), latency buckets from the stick table the backends' response rules fill."""
        stats = api.parse_stat(await self._cmd("show stat"))
        table = api.parse_table(await self._cmd(f"show table {api.TRAFFIC_TABLE}"))
        at = time.monotonic()
        colors = {}
        for color in Color:
            row = stats.get(api.backend(color))
            if row is None:
                raise RouterError(f"HAProxy has no backend {api.backend(color)}",
                                  hint="add turnout's frontends and backends to its config (docs/routers.md)")
            answered = sum(int(row.get(k) or 0) for k in ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
                                                          "hrsp_5xx", "hrsp_other"))
            colors[color] = ColorTraffic(answered, int(row.get("hrsp_5xx") or 0),
                                         tuple(table.get(api.backend(color), [0] * (len(api.LATENCY_MS) + 1))))
        return Traffic(at, tuple(ms / 1000 for ms in api.LATENCY_MS), colors)

    async def release(self) -> None:
        if self.owned:
            # SIGUSR1 = soft stop: listeners close, in-flight requests finish, up to the drain time.
            await self.process.stop(self.drain, signal.SIGUSR1)

    # -- helpers -------------------------------------------------------------------------------
    async def _cmd(self, line: str) -> str:
        return await api.command(self.socket, line)

    async def _servers(self, backend: str) -> list[api.Slot]:
        text = await self._cmd(f"show servers state {backend}")
        if "Can't find backend" in text:
            raise RouterError(f"HAProxy has no backend {backend}",
                              hint="update turnout's frontends and backends in its config (docs/routers.md): "
                                   "each color has a production and a test backend")
        return api.parse_servers(text)

    async def _answers(self) -> bool:
        if self.process.pid is None:
            return False
        try:
            return "Name: HAProxy" in await self._cmd("show info")
        except RouterError:
            return False

    async def _maps(self) -> tuple[str, str]:
        if self.owned:
            return str(self.folder / api.WEIGHTS_MAP), str(self.folder / api.TEST_MAP)
        found = api.find_maps(await self._cmd("show map"))
        if api.WEIGHTS_MAP not in found or api.TEST_MAP not in found:
            raise RouterError(f"the HAProxy on {self.socket} has no {api.WEIGHTS_MAP} / {api.TEST_MAP} maps",
                              hint="add turnout's frontends and backends to its config (docs/routers.md)")
        return found[api.WEIGHTS_MAP], found[api.TEST_MAP]

    def _render(self, slots: dict[Color, list[api.Slot]]) -> str:
        return api.render_config(
            production=self.production, test=self.test, socket=self.socket, maps_dir=self.folder, slots=slots,
            maxconn=self.options.maxconn, threads=self.options.threads, timeout_server=self.options.timeout_server,
            timeout_connect=self.options.timeout_connect)

    async def _persist_servers(self, slots: dict[Color, list[api.Slot]]) -> None:
        if self.owned:
            atomic_write(self.folder / "haproxy.cfg", self._render(slots))
        elif self.options.server_state_file:
            text = await self._cmd("show servers state")
            atomic_write(Path(self.options.server_state_file), text)

    async def _start(self, wanted: dict[Color, tuple[Endpoint, ...]]) -> None:
        binary = shutil.which(self.options.binary)
        if binary is None:
            raise RouterError(f"{self.options.binary} not found", hint="run scripts/install-servers.sh")
        await self.process.stop(0)  # a leftover that no longer answers its socket
        cfg = self._write_files(wanted)
        check = subprocess.run([binary, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RouterError(f"HAProxy rejected the generated config {cfg}: {(check.stderr or check.stdout).strip()}")
        self.process.start([binary, "-W", "-S", self.master_socket, "-f", str(cfg)])
        await self.process.wait_ready(self._answers)

    def _write_files(self, wanted: dict[Color, tuple[Endpoint, ...]]) -> Path:
        """Config and maps for a (re)start; a color not given keeps the instances the old config had."""
        cfg = self.folder / "haproxy.cfg"
        try:
            before = api.slots_in_config(cfg.read_text()) if cfg.exists() else {}
        except (OSError, ValueError):  # damaged (we write it whole again below): only the colors given serve
            before = {}
        slots = {}
        for color in Color:
            endpoints = list(wanted[color] if color in wanted else
                             (s.endpoint for s in before.get(color, []) if s.serving))
            slots[color] = [api.Slot(f"s{i + 1}", endpoints[i] if i < len(endpoints) else EMPTY, i < len(endpoints))
                            for i in range(self.options.slots)]
        # Maps survive a crash: a restarted HAProxy serves the split turnout last applied. Damaged ones are
        # set aside (kept) and written again with the split this driver last saw, never a default color.
        maps = (self.folder / api.WEIGHTS_MAP, self.folder / api.TEST_MAP)
        try:
            valid = api.maps_valid(maps[0].read_text(), maps[1].read_text())
        except (OSError, ValueError):
            valid = False
        if not valid:
            stamp = time.strftime("%Y%m%dT%H%M%S")
            for path in maps:
                set_aside(path, stamp)
            w = self.restart_split()
            text_w, text_t = api.render_maps(w.green, w.dominant.other)
            atomic_write(maps[0], text_w)
            atomic_write(maps[1], text_t)
        atomic_write(cfg, self._render(slots))
        for sock in (self.socket, self.master_socket):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(sock)
        return cfg
