"""DockerRuntime: each color's instances are containers, spread over the engines of runtime.options.hosts.

The engines are the state: a container carries labels turnout.app, .color, .version and .instance, and
every call lists what runs by those labels (nothing else is ever stopped or removed). Instance i runs on
host i mod n, its port published on a fixed host port (a restart by the engine's policy keeps it, so
the router needs no change), and it is ready when it answers the readiness path through that port (a
bare connect proves nothing: docker-proxy accepts before the app listens) and, when the image has a
HEALTHCHECK, when the engine says it is healthy. The engine restarts a crashed container (restart
policy); after an agent restart, recover() adopts what runs by its labels and restarts nothing.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self

import httpx

from turnout.config import DriverEnv, HealthConfig, RuntimeConfig
from turnout.errors import RuntimeFailure
from turnout.model import Color, Endpoint, EnvStatus, InstanceStatus, LogLine, Release
from turnout.runtimes.docker import images
from turnout.runtimes.docker import logs as _logs
from turnout.runtimes.docker.engine import Container, Engine, PortBusy, Unreachable
from turnout.runtimes.docker.options import DockerHost, DockerRuntimeOptions
from turnout.runtimes.docker.spec import SpecBuilder, image_ref, selector

log = logging.getLogger(__name__)
FAILED_GRACE = 1.0  # stop grace for containers that never became ready: no traffic reached them
STATUS_TIMEOUT = 1.0
PORT_TRIES = 20  # host ports tried before giving up on a host (each busy one is skipped)
THREADS = 32  # SDK calls in flight at once, over all engines
_HEALTHY = (None, "healthy")  # the image's HEALTHCHECK, if it has one, says healthy


class DockerRuntime:
    kind = "docker"
    Options = DockerRuntimeOptions

    def __init__(self, app: str, section: RuntimeConfig, options: DockerRuntimeOptions, *, health: HealthConfig,
                 base_dir: Path, hosts: list[DockerHost]) -> None:
        self.app, self.options, self._rt, self._health = app, options, section, health
        self._pool: ThreadPoolExecutor | None = None
        self.engines = [Engine(h, i, timeout=options.api_timeout, pool=self._threads, base_dir=base_dir)
                        for i, h in enumerate(hosts)]
        self._specs = SpecBuilder(app, section, options, base_dir)
        self._locks = {c: asyncio.Lock() for c in Color}  # one operation per color at a time
        self._seen: dict[tuple[int, Color], list[Container]] = {}  # each engine's last answer, per color
        self._away: set[int] = set()  # engines that did not answer the last listing (said once, not each tick)

    @classmethod
    def from_options(cls, section: RuntimeConfig, options: DockerRuntimeOptions, env: DriverEnv) -> Self:
        return cls(env.app, section, options, health=env.health, base_dir=env.base_dir, hosts=options.engines())

    def _threads(self) -> ThreadPoolExecutor:
        if self._pool is None:  # made on first use, and again after close()
            self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="turnout-docker")
        return self._pool

    def endpoint(self, c: Container) -> Endpoint:
        return Endpoint(self.engines[c.engine].host.router_address, c.host_port or 0)

    # -- the Runtime protocol -------------------------------------------------------------------
    async def start(self, release: Release, color: Color, instances: int | None = None) -> list[Endpoint]:
        count = self._rt.instances if instances is None else instances
        ref = image_ref(self.options, release.version)
        used = sorted({i % len(self.engines) for i in range(count)})
        async with self._locks[color]:
            await _all(images.ensure(self.engines[e], ref, self.options.pull) for e in used)
            await self._remove_all(color, self._rt.stop_grace)
            made = await self._add(color, release.version, range(count))
            await asyncio.gather(*(images.prune(self.engines[e], self.options.image, self.options.keep_images)
                                   for e in used))
            return [self.endpoint(c) for c in made]

    async def stop(self, color: Color, drain: float | None = None) -> None:
        async with self._locks[color]:
            await self._remove_all(color, self._rt.stop_grace if drain is None else drain)

    async def scale(self, color: Color, count: int) -> list[Endpoint]:
        async with self._locks[color]:
            have = sorted(await self._list(color, strict=True), key=lambda c: c.index)
            if not have:
                raise RuntimeFailure(f"nothing runs on {color.value}: start a release there before scaling it")
            version = _newest(have).version
            if count > len(have):
                taken = {c.index for c in have}
                free = [i for i in range(count + len(have)) if i not in taken][:count - len(have)]
                have += await self._add(color, version, free)
            elif count < len(have):
                gone, have = have[count:], have[:count]
                await _all(self.engines[c.engine].remove(c, self._rt.stop_grace) for c in gone)
            return [self.endpoint(c) for c in sorted(have, key=lambda c: c.index)]

    async def status(self, color: Color) -> EnvStatus:
        found = [c for c in await self._list(color, strict=False) if c.host_port]
        if not found:
            return EnvStatus(color, None)
        version = _newest(found).version
        found.sort(key=lambda c: (c.index, c.created))
        async with self._client(min(self._health.timeout, STATUS_TIMEOUT)) as client:
            answers = await asyncio.gather(*(self._probe(client, self.endpoint(c)) for c in found))
        # No pid: the process lives on the engine's host, maybe another machine.
        return EnvStatus(color, version, tuple(
            InstanceStatus(self.endpoint(c), ok and c.running and c.version == version and c.health in _HEALTHY,
                           None, c.restarts) for c, (ok, _) in zip(found, answers, strict=True)))

    async def recover(self) -> None:
        """Adopt what runs: the engines keep the containers (and restart them by their policy), so this
        only reads them, by label, and says what it found. Nothing is started or restarted."""
        for color in Color:
            found = await self._list(color, strict=False)
            for version in sorted({c.version for c in found}):
                mine = [c for c in found if c.version == version]
                log.info("adopted %d %s containers of %s (%s)", len(mine), color.value, version,
                         ", ".join(f"{c.name} on {self.engines[c.engine].name}" for c in mine))

    async def close(self) -> None:
        """Containers keep running; only the API connections and the threads go."""
        for engine in self.engines:
            engine.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def logs(self, color: Color, *, lines: int = 100, follow: bool = False) -> AsyncIterator[LogLine]:
        async def containers() -> list[tuple[Engine, Container]]:
            found = sorted(await self._list(color, strict=False), key=lambda c: (c.index, c.created))
            return [(self.engines[c.engine], c) for c in found]

        return _logs.stream(containers, lines=lines, follow=follow)

    # -- containers -----------------------------------------------------------------------------
    async def _list(self, color: Color, *, strict: bool) -> list[Container]:
        """Every container of the color on every engine. An engine that does not answer: Unreachable
        when `strict`; else what it said last time (its containers may well still serve), with a warning."""
        labels = selector(self.app, color)
        answers = await asyncio.gather(*(e.containers(labels, self.options.port) for e in self.engines),
                                       return_exceptions=True)
        found: list[Container] = []
        for engine, answer in zip(self.engines, answers, strict=True):
            if isinstance(answer, Unreachable) and not strict:
                if engine.position not in self._away:
                    log.warning("%s; its containers are reported as last seen until it answers", answer)
                    self._away.add(engine.position)
                found += self._seen.get((engine.position, color), [])
            elif isinstance(answer, BaseException):
                raise answer
            else:
                if engine.position in self._away:
                    log.warning("docker host %s answers again", engine.name)
                    self._away.discard(engine.position)
                self._seen[engine.position, color] = answer
                found += answer
        return found

    async def _add(self, color: Color, version: str, indices: Iterable[int]) -> list[Container]:
        """Run one container per index, on its host; all ready, or none left (RuntimeFailure)."""
        # Launches are not cancelled when one fails: a cancelled one could still create its container.
        launched = await asyncio.gather(*(self._launch(color, version, i) for i in indices), return_exceptions=True)
        made = [c for c in launched if isinstance(c, Container)]
        try:
            for result in launched:
                if isinstance(result, BaseException):
                    raise result
            await _all(self._wait_ready(color, c) for c in made)
        except BaseException:
            await asyncio.shield(self._discard(made))
            raise
        return sorted(made, key=lambda c: c.index)

    async def _launch(self, color: Color, version: str, index: int) -> Container:
        engine = self.engines[index % len(self.engines)]
        spec = self._specs.build(color, version, index, engine.host.publish)
        known = {c.host_port for cs in self._seen.values() for c in cs if c.engine == engine.position}
        candidates = [p for p in self.options.port_range() if p not in known]
        for port in random.sample(candidates, min(PORT_TRIES, len(candidates))):
            try:
                container_id = await engine.run(spec, port)
            except PortBusy:
                continue
            container = await engine.inspect(container_id, self.options.port)
            if container is None:
                raise RuntimeFailure(f"{engine.name}: container {spec.name} vanished right after its start")
            return container
        raise RuntimeFailure(f"{engine.name}: no free host port for {spec.name} in {self.options.host_ports} "
                             f"after {min(PORT_TRIES, len(candidates))} tries", hint="widen runtime.options.host_ports")

    async def _wait_ready(self, color: Color, first: Container) -> None:
        """Until the container answers readiness `health.successes` times in a row (and its image's
        HEALTHCHECK says healthy); RuntimeFailure if it exits, turns unhealthy or runs out of time."""
        engine, timeout = self.engines[first.engine], self._rt.ready_timeout
        deadline, streak, last = time.monotonic() + timeout, 0, "no probe yet"
        async with self._client(self._health.timeout) as client:
            while True:
                c = await engine.inspect(first.id, self.options.port)
                if c is None:
                    raise self._failure(color, first, "was removed before it was ready", with_logs=False)
                if c.status in ("exited", "dead") or c.restarts > first.restarts:
                    raise self._failure(color, c, f"exited with code {c.exit_code} before it was ready"
                                        + (f" (restarted {c.restarts} times)" if c.restarts else ""))
                if c.health == "unhealthy":
                    raise self._failure(color, c, f"is unhealthy by its image's HEALTHCHECK ({c.health_log})")
                ok, last = await self._probe(client, self.endpoint(c))
                streak = streak + 1 if ok else 0
                if streak >= self._health.successes and c.health in _HEALTHY:
                    return
                if c.health is not None and c.health != "healthy":
                    last += f"; HEALTHCHECK {c.health}"
                if time.monotonic() + self._health.interval > deadline:
                    raise self._failure(color, c, f"was not ready within {timeout:g}s (last probe: {last})")
                await asyncio.sleep(self._health.interval)

    def _failure(self, color: Color, c: Container, what: str, *, with_logs: bool = True) -> RuntimeFailure:
        engine = self.engines[c.engine]
        return _Failed(f"{color.value} instance {c.index} ({c.version}, container {c.name} on {engine.name}, "
                       f"port {c.host_port}) {what}", hint=f"docker -H {engine.name} logs {c.name}",
                       engine=engine, container_id=c.id if with_logs else None)

    async def _discard(self, made: list[Container]) -> None:
        """Remove containers of a start that failed, best effort: the failure that got us here matters more."""
        results = await asyncio.gather(*(self.engines[c.engine].remove(c, FAILED_GRACE) for c in made),
                                       return_exceptions=True)
        for c, result in zip(made, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("could not remove %s: %s", c.name, result)

    async def _remove_all(self, color: Color, grace: float) -> None:
        """Stop and remove every container of the color on every engine that answers; then RuntimeFailure
        naming the engines that did not (their containers were left as they were)."""
        labels = selector(self.app, color)

        async def on(engine: Engine) -> None:
            found = await engine.containers(labels, self.options.port)
            await _all(engine.remove(c, grace) for c in found)
            self._seen.pop((engine.position, color), None)

        results = await asyncio.gather(*(on(e) for e in self.engines), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            if len(failed) == 1:
                raise failed[0]
            raise RuntimeFailure(f"could not remove every {color.value} container: "
                                 + "; ".join(str(f) for f in failed))

    # -- probes ---------------------------------------------------------------------------------
    def _client(self, timeout: float) -> httpx.AsyncClient:
        # trust_env=False: an HTTP_PROXY in the environment must not capture the probes.
        return httpx.AsyncClient(timeout=timeout, trust_env=False)

    async def _probe(self, client: httpx.AsyncClient, endpoint: Endpoint) -> tuple[bool, str]:
        try:
            response = await client.get(endpoint.url + self._health.path)
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__} {exc}".strip()
        return response.is_success, f"HTTP {response.status_code}"


class _Failed(RuntimeFailure):
    """A container that did not get ready; its log tail is added once it is read (see _all)."""

    def __init__(self, message: str, *, hint: str, engine: Engine, container_id: str | None) -> None:
        super().__init__(message, hint=hint)
        self.engine, self.container_id = engine, container_id


def _newest(found: list[Container]) -> Container:
    return max(found, key=lambda c: c.created)


async def _all(aws: Iterable[Coroutine[Any, Any, Any]]) -> None:
    """Run them together; the first failure cancels the rest (like a TaskGroup) and is raised alone,
    with the failed container's log tail added to its message."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.gather(*tasks)
    except _Failed as exc:
        raise RuntimeFailure(await _with_logs(exc), hint=exc.hint) from None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _with_logs(exc: _Failed) -> str:
    if exc.container_id is None:
        return str(exc)
    try:
        tail = (await exc.engine.logs(exc.container_id, 20)).decode(errors="replace").rstrip()
    except RuntimeFailure as err:
        tail = f"(cannot read it: {err})"
    return f"{exc}; last lines of its log:\n    " + tail.replace("\n", "\n    ")
