"""Static runtime: each color is a fixed list of `host:port` that something else deploys.

A CI job, a config-management run or another team puts the release on the hosts; turnout only
checks that they answer the readiness path and switches the router between them (with HAProxy in
front, this is the fleet setup). It cannot start, stop or scale anything: start() waits until the
color's hosts are ready, stop() only records the color as stopped (so it is not routed to), and
scale() refuses any count but the number of hosts. The version that runs there is whatever was
deployed: the version check verifies it against the release before a switch.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import httpx

from turnout.config import DriverEnv, HealthConfig, NoOptions, RuntimeConfig
from turnout.errors import ConfigError, RuntimeFailure
from turnout.infra.files import atomic_write
from turnout.measure import web
from turnout.model import Color, Endpoint, EnvStatus, InstanceStatus, Release


def parse_hosts(hosts: Mapping[Literal["blue", "green"], list[str]]) -> dict[Color, tuple[Endpoint, ...]]:
    """`runtime.hosts` (host:port lists, checked by the schema) -> endpoints per color; both colors needed."""
    missing = [c for c in Color if c.value not in hosts]
    if missing:
        raise ConfigError("field required (the static runtime needs both colors)", key=("runtime", "hosts", missing[0]))
    return {c: tuple(dict.fromkeys(Endpoint.parse(text) for text in hosts[c.value])) for c in Color}


class StaticRuntime:
    kind = "static"
    Options = NoOptions

    def __init__(self, hosts: dict[Color, tuple[Endpoint, ...]], health: HealthConfig, state_file: Path) -> None:
        self.hosts, self.health, self.state_file = hosts, health, state_file

    @classmethod
    def from_options(cls, section: RuntimeConfig, options: NoOptions, env: DriverEnv) -> Self:
        return cls(parse_hosts(section.hosts), env.health, env.state_dir / "static-runtime.json")

    async def start(self, release: Release, color: Color, instances: int | None = None) -> list[Endpoint]:
        hosts = self.hosts[color]
        if instances is not None and instances != len(hosts):
            raise RuntimeFailure(f"the static runtime cannot start {instances} instances of {color}: "
                                 f"runtime.hosts.{color} lists {len(hosts)}")
        results = await asyncio.gather(*(self._wait_ready(e) for e in hosts))
        failed = [f"{e.address} ({why})" for e, why in zip(hosts, results, strict=True) if why]
        if failed:
            raise RuntimeFailure(f"{color} hosts not ready on {self.health.path}: {', '.join(failed)}",
                                 hint="the static runtime deploys nothing: deploy the release there first")
        self._record(color, release.version)
        return list(hosts)

    async def stop(self, color: Color, drain: float | None = None) -> None:
        self._record(color, None)  # nothing to stop: whoever deployed the hosts owns them

    async def scale(self, color: Color, count: int) -> list[Endpoint]:
        hosts = self.hosts[color]
        if count != len(hosts):
            raise RuntimeFailure(f"the static runtime cannot scale {color} to {count}: its hosts are the "
                                 f"{len(hosts)} in runtime.hosts.{color}", hint="change the list there")
        return list(hosts)

    async def status(self, color: Color) -> EnvStatus:
        state = self._load()
        if color.value not in state:  # stopped, or never started
            return EnvStatus(color, None)
        async with web.async_client(timeout=self.health.timeout) as client:
            oks = await asyncio.gather(*(self._probe(client, e) for e in self.hosts[color]))
        instances = tuple(InstanceStatus(e, ok is None) for e, ok in zip(self.hosts[color], oks, strict=True))
        return EnvStatus(color, state[color.value], instances)

    async def recover(self) -> None:
        """Nothing runs under turnout here, so there is nothing to adopt."""

    async def close(self) -> None:
        """Nothing is supervised."""

    # -- helpers -------------------------------------------------------------------------------
    async def _probe(self, client: httpx.AsyncClient, endpoint: Endpoint) -> str | None:
        """None if the host answers the readiness path with 2xx, else why not."""
        try:
            r = await client.get(endpoint.url + self.health.path)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return None if 200 <= r.status_code < 300 else f"HTTP {r.status_code}"

    async def _wait_ready(self, endpoint: Endpoint) -> str | None:
        """`health.successes` answers in a row within `health.deadline`; None, or the last failure."""
        streak, last = 0, "no answer"
        deadline = time.monotonic() + self.health.deadline
        async with web.async_client(timeout=self.health.timeout) as client:
            while time.monotonic() < deadline:
                why = await self._probe(client, endpoint)
                streak, last = (streak + 1, last) if why is None else (0, why)
                if streak >= self.health.successes:
                    return None
                await asyncio.sleep(self.health.interval)
        return last

    def _load(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.state_file.read_text())
            return data
        except (OSError, ValueError):
            return {}

    def _record(self, color: Color, version: str | None) -> None:
        """Started colors and their release, kept in the state folder across turnout commands."""
        state = self._load()
        if version is None:
            state.pop(color.value, None)
        else:
            state[color.value] = version
        atomic_write(self.state_file, json.dumps(state))
