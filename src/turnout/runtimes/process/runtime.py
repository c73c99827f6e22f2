"""The embedded default runtime: each color's instances are local processes on loopback ports.

Instances run in their own sessions, so they outlive the host (the agent) that started them; a
record per color in state_dir/runtime/ lets the next host adopt them (`recover()`). While a host
runs, a supervisor task per instance restarts a crashed one on the same port, so routers need no
change. Start waits for readiness; stop is SIGTERM to the process group, a drain, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx

from turnout.config import DriverEnv, HealthConfig, NoOptions, RuntimeConfig, templates
from turnout.errors import ConfigError, RuntimeFailure
from turnout.infra import files, procs
from turnout.measure import web
from turnout.model import Color, Endpoint, EnvStatus, InstanceStatus, LogLine, Release
from turnout.runtimes.process import procs as spawning
from turnout.runtimes.process import records as _records
from turnout.runtimes.process.records import ColorRecord, InstanceRecord

log = logging.getLogger(__name__)
BACKOFF = (0.5, 30.0)  # restart delay: first, and the cap it doubles up to
STABLE_AFTER = 30.0  # an instance that ran this long before crashing restarts after the first delay again
FAILED_GRACE = 1.0  # drain for instances that never became ready: no traffic reached them
STATUS_TIMEOUT = 1.0
LOG_POLL = 0.25  # how often `logs --follow` looks for new lines


@dataclass(eq=False)
class _Instance:
    rec: InstanceRecord
    popen: subprocess.Popen[bytes] | None = None  # None when adopted from a previous host
    watcher: asyncio.Task[None] | None = None
    stopping: bool = False


@dataclass(eq=False)
class _Env:
    version: str
    instances: dict[int, _Instance] = field(default_factory=dict)


class ProcessRuntime:
    kind = "process"
    Options = NoOptions  # the process runtime reads runtime.command, cwd, env, restart

    def __init__(self, runtime: RuntimeConfig, health: HealthConfig, state_dir: Path, base_dir: Path,
                 *, host: str = "127.0.0.1", reserved: frozenset[int] = frozenset()) -> None:
        self.host, self.reserved = host, reserved  # reserved: the router's and the API's ports
        self._rt, self._health, self._state_dir = runtime, health, state_dir
        self._cwd = (base_dir / runtime.cwd).resolve()
        self._envs: dict[Color, _Env] = {}
        self._locks = {c: asyncio.Lock() for c in Color}  # one operation per color at a time

    @classmethod
    def from_options(cls, section: RuntimeConfig, options: NoOptions, env: DriverEnv) -> Self:
        if not section.command:
            raise ConfigError("field required for the process runtime", key=("runtime", "command"))
        return cls(section, env.health, env.state_dir, env.base_dir, reserved=env.reserved_ports)

    def log_path(self, color: Color, index: int) -> Path:
        return self._state_dir / "logs" / f"{color.value}-{index}.log"

    async def logs(self, color: Color, *, lines: int = 100, follow: bool = False) -> AsyncIterator[LogLine]:
        """Every instance log of `color` (the files outlive the instances), then, with `follow`,
        what is appended to them, polled every LOG_POLL seconds."""
        paths = sorted((self._state_dir / "logs").glob(f"{color.value}-*.log"),
                       key=lambda p: int(p.stem.rpartition("-")[2]) if p.stem.rpartition("-")[2].isdigit() else 0)
        offsets: dict[Path, int] = {}
        for path in paths:
            for text in files.tail(path, lines=lines).splitlines():
                yield LogLine(path.stem, text)
            offsets[path] = path.stat().st_size if path.exists() else 0
        while follow:
            await asyncio.sleep(LOG_POLL)
            for path in sorted((self._state_dir / "logs").glob(f"{color.value}-*.log")):
                size = path.stat().st_size
                start = offsets.get(path, 0)
                if size < start:  # truncated or replaced: read it from the top
                    start = 0
                if size > start:
                    with path.open("rb") as f:
                        f.seek(start)
                        chunk = f.read(size - start)
                    complete, _, _ = chunk.rpartition(b"\n")  # a partial last line waits for its end
                    if complete or chunk.endswith(b"\n"):
                        offsets[path] = start + len(complete) + 1
                        for text in complete.decode(errors="replace").splitlines():
                            yield LogLine(path.stem, text)
                else:
                    offsets[path] = start

    # -- the Runtime protocol -------------------------------------------------------------------

    async def start(self, release: Release, color: Color, instances: int | None = None) -> list[Endpoint]:
        count = self._rt.instances if instances is None else instances
        async with self._locks[color]:
            await self._stop(color, self._rt.stop_grace)
            env = self._envs[color] = _Env(release.version)
            try:
                await self._add(color, env, range(count))
            except BaseException:
                await self._stop(color, FAILED_GRACE)
                raise
            return self._endpoints(env)

    async def stop(self, color: Color, drain: float | None = None) -> None:
        async with self._locks[color]:
            await self._stop(color, self._rt.stop_grace if drain is None else drain)

    async def scale(self, color: Color, count: int) -> list[Endpoint]:
        async with self._locks[color]:
            env = self._envs.get(color) or await self._recover(color)
            if env is None:
                raise RuntimeFailure(f"nothing runs on {color.value}: start a release there before scaling it")
            have = sorted(env.instances)
            if count > len(have):
                free = (i for i in range(count + len(have)) if i not in env.instances)
                await self._add(color, env, [next(free) for _ in range(count - len(have))])
            elif count < len(have):
                gone = [env.instances.pop(i) for i in have[count:]]
                self._save(color)
                await self._retire(gone, self._rt.stop_grace)
            return self._endpoints(env)

    async def status(self, color: Color) -> EnvStatus:
        env = self._envs.get(color)
        if env is None:  # not ours (yet): report the record read-only, adopting nothing
            record = _records.load(self._state_dir, color)
            if record is None:
                return EnvStatus(color, None)
            env = _Env(record.version, {r.index: _Instance(r) for r in record.instances})
        insts = [env.instances[i] for i in sorted(env.instances)]
        timeout = min(self._health.timeout, STATUS_TIMEOUT)
        async with self._client(timeout) as client:
            healthy = await asyncio.gather(*(self._probe(client, i.rec.port) for i in insts))
        return EnvStatus(color, env.version, tuple(
            InstanceStatus(Endpoint(self.host, i.rec.port), ok, self._pid(i), i.rec.restarts)
            for i, (ok, _) in zip(insts, healthy, strict=True)))

    async def recover(self) -> None:
        async def one(color: Color) -> None:
            async with self._locks[color]:
                if color not in self._envs:
                    await self._recover(color)

        await asyncio.gather(*(one(c) for c in Color))

    async def close(self) -> None:
        tasks = [i.watcher for env in self._envs.values() for i in env.instances.values() if i.watcher]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for env in self._envs.values():
            for inst in env.instances.values():
                if inst.popen is not None:
                    spawning.let_go(inst.popen)
        self._envs.clear()

    # -- starting and stopping instances ------------------------------------------------------

    async def _add(self, color: Color, env: _Env, indices: range | list[int]) -> None:
        """Start instances at `indices`, wait until all are ready, then supervise them."""
        used = {i.rec.port for e in self._envs.values() for i in e.instances.values()} | self.reserved
        new: list[_Instance] = []
        try:
            for index in indices:
                port = procs.free_port(self.host, used)
                used.add(port)
                inst = env.instances[index] = _Instance(InstanceRecord(index, port, env.version))
                new.append(inst)
                self._spawn(color, inst)
            self._save(color)  # before waiting: a host that dies now leaves processes the next one finds
            await self._all_ready(color, new)
        except BaseException:
            for inst in new:
                env.instances.pop(inst.rec.index, None)
            await self._retire(new, FAILED_GRACE)
            self._save(color)
            raise
        for inst in new:
            self._watch(color, inst)

    def _spawn(self, color: Color, inst: _Instance) -> None:
        rec = inst.rec
        values = {"version": rec.version, "color": color.value, "port": str(rec.port), "instance": str(rec.index)}

        argv = [templates.fill(part, values) for part in self._rt.command]
        env = {**os.environ, **{k: templates.fill(v, values) for k, v in self._rt.env.items()}, "PORT": values["port"],
               "TURNOUT_VERSION": rec.version, "TURNOUT_COLOR": color.value, "TURNOUT_INSTANCE": values["instance"],
               _records.RUNTIME_ENV: str(_records.folder(self._state_dir))}  # found again if its record is lost
        header = (f"--- turnout {time.strftime('%Y-%m-%dT%H:%M:%S%z')}: {color.value} instance {rec.index} "
                  f"version {rec.version} port {rec.port}: {shlex.join(argv)}\n")
        inst.popen = spawning.spawn(argv, self._cwd, env, self.log_path(color, rec.index), header)
        rec.pid, rec.command, rec.started_at = inst.popen.pid, argv, time.time()
        rec.starttime = procs.starttime(rec.pid)

    async def _all_ready(self, color: Color, insts: list[_Instance]) -> None:
        """Like gather, but the first failure cancels the other waits instead of leaving them running."""
        tasks = [asyncio.ensure_future(self._wait_ready(color, i, self._health.successes)) for i in insts]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _wait_ready(self, color: Color, inst: _Instance, successes: int) -> None:
        """Until the instance answers readiness `successes` times in a row; RuntimeFailure if it exits
        or runs out of runtime.ready_timeout."""
        rec, timeout = inst.rec, self._rt.ready_timeout
        deadline, streak, last = time.monotonic() + timeout, 0, "no probe yet"
        async with self._client(self._health.timeout) as client:
            while True:
                if not self._running(inst):
                    raise self._failure(color, inst, f"{procs.describe_exit(self._reap(inst))} before it was ready")
                ok, last = await self._probe(client, rec.port)
                streak = streak + 1 if ok else 0
                if streak >= successes:
                    return
                if time.monotonic() + self._health.interval > deadline:
                    raise self._failure(color, inst, f"was not ready within {timeout:g}s (last probe: {last})")
                await asyncio.sleep(self._health.interval)

    def _failure(self, color: Color, inst: _Instance, what: str) -> RuntimeFailure:
        logfile = self.log_path(color, inst.rec.index)
        tail = files.tail(logfile, since="--- turnout ").replace("\n", "\n    ")
        return RuntimeFailure(
            f"{color.value} instance {inst.rec.index} ({inst.rec.version}, port {inst.rec.port}) {what}; "
            f"last lines of {logfile}:\n    {tail}", hint=f"see {logfile}")

    def _running(self, inst: _Instance) -> bool:
        if inst.popen is not None:
            return inst.popen.poll() is None  # poll() also reaps an exited child
        return inst.rec.pid is not None and procs.pid_alive(inst.rec.pid)

    def _reap(self, inst: _Instance) -> int | None:
        """The exit code of an exited instance; None if unknown (not our child, or reaped elsewhere)."""
        if inst.popen is not None:
            return inst.popen.poll()
        return procs.reap(inst.rec.pid) if inst.rec.pid else None

    async def _stop(self, color: Color, drain: float) -> None:
        env = self._envs.pop(color, None)
        if env is None:  # left by a previous host and never recovered: stop what the record names
            record = _records.load(self._state_dir, color)
            env = _Env(record.version, {r.index: _Instance(r) for r in record.instances}) if record else None
        if env is not None:
            await self._retire(list(env.instances.values()), drain)
        _records.remove(self._state_dir, color)

    async def _retire(self, insts: list[_Instance], drain: float) -> None:
        for inst in insts:
            inst.stopping = True
            if inst.watcher:
                inst.watcher.cancel()
        await asyncio.gather(*(i.watcher for i in insts if i.watcher), return_exceptions=True)
        await asyncio.gather(*(self._terminate(i, drain) for i in insts))

    async def _terminate(self, inst: _Instance, drain: float) -> None:
        """SIGTERM the instance's process group, wait `drain` seconds for it to exit, then SIGKILL."""
        pid = inst.rec.pid
        if pid is None or not self._running(inst):
            return
        if inst.popen is None and not procs.same_process(pid, inst.rec.starttime, inst.rec.command):
            return  # the pid now belongs to someone else
        procs.signal_group(pid, signal.SIGTERM)
        if not await procs.exited_within(pid, drain):
            log.log(logging.WARNING if drain else logging.DEBUG,  # drain=0 asks for the kill
                    "pid %d (port %d) still running %gs after SIGTERM: SIGKILL", pid, inst.rec.port, drain)
            procs.signal_group(pid, signal.SIGKILL)
            await procs.exited_within(pid, 5.0)
        self._reap(inst)

    # -- supervision and recovery -------------------------------------------------------------

    def _watch(self, color: Color, inst: _Instance) -> None:
        inst.watcher = asyncio.create_task(self._supervise(color, inst), name=f"turnout-{color}-{inst.rec.index}")

    async def _supervise(self, color: Color, inst: _Instance) -> None:
        """Restart the instance on the same port whenever it exits, with a doubling delay."""
        rec, delay = inst.rec, BACKOFF[0]
        while not inst.stopping:
            if rec.pid is not None:
                await procs.wait_exit(rec.pid)
                code = self._reap(inst)
                ran = time.time() - rec.started_at
                log.warning("%s instance %d (pid %d, port %d) %s after %.0fs", color.value, rec.index, rec.pid,
                            rec.port, procs.describe_exit(code), ran)
                rec.pid, delay = None, BACKOFF[0] if ran > STABLE_AFTER else delay
                if not self._rt.restart:
                    self._save(color)
                    return
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF[1])
            try:
                self._spawn(color, inst)
            except RuntimeFailure as exc:
                log.error("restarting %s instance %d: %s", color.value, rec.index, exc)
            rec.restarts += 1
            self._save(color)

    async def _recover(self, color: Color) -> _Env | None:
        try:
            record = _records.load(self._state_dir, color)
        except RuntimeFailure as exc:  # damaged: the instances themselves say what runs
            record = _records.found_running(self._state_dir, color)
            if record is None:
                raise
            aside = files.set_aside(_records.path(self._state_dir, color))
            log.warning("%s; set aside as %s, rebuilt from %d running instances", exc, aside,
                        len(record.instances))
        if record is None:
            return None
        env = self._envs[color] = _Env(record.version, {r.index: _Instance(r) for r in record.instances})
        await asyncio.gather(*(self._recover_instance(color, env, i) for i in list(env.instances.values())))
        self._save(color)
        return env

    async def _recover_instance(self, color: Color, env: _Env, inst: _Instance) -> None:
        rec = inst.rec
        if rec.pid is not None and procs.same_process(rec.pid, rec.starttime, rec.command):
            try:
                await self._wait_ready(color, inst, 1)
                log.info("adopted %s instance %d (pid %d, port %d)", color.value, rec.index, rec.pid, rec.port)
                self._watch(color, inst)
                return
            except RuntimeFailure as exc:
                log.warning("%s; replacing it", exc)
                await self._terminate(inst, FAILED_GRACE)
        if not self._rt.restart:
            log.warning("%s instance %d (port %d) is gone; restart is off", color.value, rec.index, rec.port)
            del env.instances[rec.index]
            return
        try:
            self._spawn(color, inst)
            rec.restarts += 1
            await self._wait_ready(color, inst, self._health.successes)
        except RuntimeFailure as exc:
            log.error("restarting %s: %s", color.value, exc)  # the supervisor keeps trying
        self._watch(color, inst)

    # -- small helpers ------------------------------------------------------------------------

    def _save(self, color: Color) -> None:
        env = self._envs.get(color)
        if env is not None:
            recs = [env.instances[i].rec for i in sorted(env.instances)]
            _records.save(self._state_dir, ColorRecord(color, env.version, recs))

    def _endpoints(self, env: _Env) -> list[Endpoint]:
        return [Endpoint(self.host, env.instances[i].rec.port) for i in sorted(env.instances)]

    def _pid(self, inst: _Instance) -> int | None:
        pid = inst.rec.pid
        if pid is None or not self._running(inst):
            return None
        return pid if inst.popen or procs.same_process(pid, inst.rec.starttime, inst.rec.command) else None

    def _client(self, timeout: float) -> httpx.AsyncClient:
        # trust_env=False: an HTTP_PROXY in the environment must not capture loopback probes.
        return web.async_client(timeout=timeout, trust_env=False)

    async def _probe(self, client: httpx.AsyncClient, port: int) -> tuple[bool, str]:
        url = f"http://{self.host}:{port}{self._health.path}"
        try:
            response = await client.get(url)
        except httpx.HTTPError as exc:
            return False, f"{type(exc).__name__} {exc}".strip()
        return response.is_success, f"HTTP {response.status_code}"

