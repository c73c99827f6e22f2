"""ProcessRuntime with real example-app processes on free loopback ports."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from turnout.config import AppConfig, Config, HealthConfig, RuntimeConfig
from turnout.errors import ConfigError, RuntimeFailure
from turnout.infra import procs
from turnout.model import Color, EnvStatus, Release
from turnout.runtimes.base import Runtime
from turnout.runtimes.process.runtime import ProcessRuntime
from turnout.testing import runtime_from_config
from turnout.testing.contracts import RuntimeContract

APP = Path(__file__).resolve().parents[2] / "src" / "turnout" / "examples" / "app.py"
BLUE, GREEN = Color.BLUE, Color.GREEN
Factory = Callable[..., ProcessRuntime]


def make(tmp_path: Path, *, instances: int = 2, restart: bool = True, ready_timeout: float = 10.0,
         args: tuple[str, ...] = ()) -> ProcessRuntime:
    command = [sys.executable, str(APP), "--port", "{port}", "--version", "{version}", "--grace", "5", *args]
    runtime = RuntimeConfig(command=command, instances=instances, ready_timeout=ready_timeout, stop_grace=5,
                            restart=restart)
    return ProcessRuntime(runtime, HealthConfig(interval=0.05, successes=2, timeout=1), tmp_path / "state", tmp_path)


@pytest.fixture
async def runtimes(tmp_path: Path) -> AsyncIterator[Factory]:
    made: list[ProcessRuntime] = []

    def factory(**kwargs: Any) -> ProcessRuntime:
        made.append(make(tmp_path, **kwargs))
        return made[-1]

    yield factory
    for rt in made:
        await rt.close()
    cleanup = make(tmp_path)  # stops whatever the records still name, even after a failed test
    for color in Color:
        await cleanup.stop(color, drain=1)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[0] == "Z"


async def until(what: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await what():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(trust_env=False, timeout=5)


async def test_start_serves_each_instance_and_records_it(runtimes: Factory, tmp_path: Path) -> None:
    rt = runtimes()
    assert isinstance(rt, Runtime)
    endpoints = await rt.start(Release("1.0.0"), BLUE)
    assert len({e.port for e in endpoints}) == 2
    async with client() as c:
        bodies = [(await c.get(e.url + "/")).json() for e in endpoints]
    assert bodies == [{"version": "1.0.0", "color": "blue", "instance": str(i)} for i in range(2)]
    status = await rt.status(BLUE)
    assert status.version == "1.0.0" and status.healthy == 2 and status.endpoints == tuple(endpoints)
    record = json.loads((tmp_path / "state" / "runtime" / "blue.json").read_text())
    assert [(i["port"], i["pid"]) for i in record["instances"]] == [(e.port, i.pid) for e, i in
                                                                     zip(endpoints, status.instances, strict=True)]
    log = (tmp_path / "state" / "logs" / "blue-1.log").read_text()
    assert "--- turnout" in log and f"listening on http://127.0.0.1:{endpoints[1].port}" in log
    assert await rt.status(GREEN) == EnvStatus(GREEN, None)


async def test_broken_release_fails_and_names_the_log(runtimes: Factory, tmp_path: Path) -> None:
    rt = runtimes(ready_timeout=1.0)
    with pytest.raises(RuntimeFailure) as err:
        await rt.start(Release("2.0.0+broken"), GREEN, instances=1)
    message = str(err.value)
    assert "was not ready within 1s (last probe: HTTP 503)" in message
    assert str(tmp_path / "state" / "logs" / "green-0.log") in message and "listening on" in message
    pid = int(message.rsplit("pid=", 1)[1].split(maxsplit=1)[0])
    assert gone(pid)
    assert await rt.status(GREEN) == EnvStatus(GREEN, None)
    assert not (tmp_path / "state" / "runtime" / "green.json").exists()


async def test_early_exit_reports_code_and_log(runtimes: Factory) -> None:
    rt = runtimes(args=("--ready-delay", "soon"))
    with pytest.raises(RuntimeFailure, match=r"exited with code 2 before it was ready(.|\n)*invalid float value"):
        await rt.start(Release("1.0.0"), BLUE)


async def test_unstartable_command_and_empty_command(tmp_path: Path) -> None:
    health = HealthConfig()
    with pytest.raises(ConfigError, match="runtime.command: field required for the process runtime"):
        runtime_from_config(ProcessRuntime, Config(app=AppConfig(name="x"), base_dir=tmp_path))
    rt = ProcessRuntime(RuntimeConfig(command=["./no-such-server", "{port}"]), health, tmp_path, tmp_path)
    with pytest.raises(RuntimeFailure, match="cannot start './no-such-server'"):
        await rt.start(Release("1.0.0"), BLUE)
    assert await rt.status(BLUE) == EnvStatus(BLUE, None)


async def test_crashed_instance_restarts_on_the_same_port(runtimes: Factory) -> None:
    rt = runtimes(instances=1)
    [endpoint] = await rt.start(Release("1.0.0"), BLUE)
    [before] = (await rt.status(BLUE)).instances
    assert before.pid is not None
    os.kill(before.pid, signal.SIGKILL)

    async def restarted() -> bool:
        [now] = (await rt.status(BLUE)).instances
        return now.healthy and now.pid not in (None, before.pid)

    await until(restarted)
    [after] = (await rt.status(BLUE)).instances
    assert after.endpoint == endpoint and after.restarts == 1


async def test_stop_drains_an_in_flight_request(runtimes: Factory, tmp_path: Path) -> None:
    rt = runtimes(instances=1)
    [endpoint] = await rt.start(Release("1.0.0"), BLUE)
    [inst] = (await rt.status(BLUE)).instances
    async with client() as c, c.stream("GET", endpoint.url + "/slow", params={"ms": "800"}) as r:
        chunks = r.aiter_text()
        body = await chunks.__anext__()
        stopping = asyncio.create_task(rt.stop(BLUE))
        body += "".join([piece async for piece in chunks])
    assert body.endswith("done\n")
    await stopping
    assert inst.pid is not None and gone(inst.pid)
    assert not (tmp_path / "state" / "runtime" / "blue.json").exists()
    await rt.stop(BLUE)  # idempotent
    assert await rt.status(BLUE) == EnvStatus(BLUE, None)


async def test_stop_kills_after_the_drain(runtimes: Factory) -> None:
    rt = runtimes(instances=1)
    [endpoint] = await rt.start(Release("1.0.0"), BLUE)
    [inst] = (await rt.status(BLUE)).instances
    async with client() as c, c.stream("GET", endpoint.url + "/slow", params={"ms": "5000"}) as r:
        chunks = r.aiter_text()
        await chunks.__anext__()
        started = time.monotonic()
        await rt.stop(BLUE, drain=0.3)
        assert time.monotonic() - started < 3
        with pytest.raises(httpx.HTTPError):
            async for _ in chunks:
                pass
    assert inst.pid is not None and gone(inst.pid)


async def test_scale_up_down_and_to_zero(runtimes: Factory, tmp_path: Path) -> None:
    rt = runtimes(instances=1)
    [first] = await rt.start(Release("1.0.0"), BLUE)
    three = await rt.scale(BLUE, 3)
    assert three[0] == first and len({e.port for e in three}) == 3
    async with client() as c:
        assert [(await c.get(e.url + "/")).json()["instance"] for e in three] == ["0", "1", "2"]
    pids = [i.pid for i in (await rt.status(BLUE)).instances]
    assert await rt.scale(BLUE, 1) == [first]
    assert all(pid is not None and gone(pid) for pid in pids[1:])
    assert await rt.scale(BLUE, 0) == []
    assert await rt.status(BLUE) == EnvStatus(BLUE, "1.0.0")  # cold, but it still knows its release
    assert json.loads((tmp_path / "state" / "runtime" / "blue.json").read_text())["version"] == "1.0.0"
    assert len(await rt.scale(BLUE, 1)) == 1
    with pytest.raises(RuntimeFailure, match="nothing runs on green"):
        await rt.scale(GREEN, 2)


async def test_recover_adopts_live_instances_and_restarts_dead_ones(runtimes: Factory) -> None:
    first = runtimes()
    endpoints = await first.start(Release("1.0.0"), BLUE)
    pids = [i.pid for i in (await first.status(BLUE)).instances]
    assert None not in pids
    await first.close()  # the host goes away; its instances keep running
    os.kill(pids[1] or 0, signal.SIGKILL)

    second = runtimes()
    assert (await second.status(BLUE)).healthy == 1  # before recover(): the record, read-only
    await second.recover()
    status = await second.status(BLUE)
    assert status.endpoints == tuple(endpoints) and status.healthy == 2
    assert status.instances[0].pid == pids[0]  # adopted, not restarted
    assert status.instances[1].pid != pids[1] and status.instances[1].restarts == 1

    os.kill(pids[0] or 0, signal.SIGKILL)  # adopted instances are supervised too

    async def restarted() -> bool:
        now = (await second.status(BLUE)).instances[0]
        return now.healthy and now.pid not in (None, pids[0])

    await until(restarted)


async def test_a_damaged_record_is_rebuilt_from_the_running_instances(runtimes: Factory, tmp_path: Path) -> None:
    first = runtimes()
    endpoints = await first.start(Release("1.0.0"), BLUE)
    pids = [i.pid for i in (await first.status(BLUE)).instances]
    await first.close()  # the host goes away; its instances keep running
    record_file = tmp_path / "state" / "runtime" / "blue.json"
    record_file.write_bytes(b'{"instances": [{"pid": \xff')  # a disk fault
    second = runtimes()
    await second.recover()  # the instances say who they are: adopted, not restarted, nothing orphaned
    status = await second.status(BLUE)
    assert status.endpoints == tuple(endpoints) and status.healthy == 2 and status.version == "1.0.0"
    assert [i.pid for i in status.instances] == pids and all(i.restarts == 0 for i in status.instances)
    [aside] = record_file.parent.glob("blue.json.damaged-*")
    assert aside.read_bytes() == b'{"instances": [{"pid": \xff'
    assert json.loads(record_file.read_text())["version"] == "1.0.0"  # written again
    await second.stop(BLUE)
    assert not any(procs.pid_alive(p) for p in pids if p)


async def test_recover_never_signals_a_process_that_reused_the_pid(runtimes: Factory, tmp_path: Path) -> None:
    first = runtimes(instances=1)
    [endpoint] = await first.start(Release("1.0.0"), BLUE)
    await first.close()
    record_file = tmp_path / "state" / "runtime" / "blue.json"
    record = json.loads(record_file.read_text())
    os.kill(record["instances"][0]["pid"], signal.SIGKILL)
    stranger = subprocess.Popen(["sleep", "30"])
    try:
        record["instances"][0]["pid"] = stranger.pid  # as if the pid had been reused
        record_file.write_text(json.dumps(record))
        second = runtimes()
        await second.recover()
        [inst] = (await second.status(BLUE)).instances
        assert inst.endpoint == endpoint and inst.healthy and inst.pid != stranger.pid
        await second.stop(BLUE)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


async def test_recover_without_restart_drops_dead_instances(runtimes: Factory) -> None:
    first = runtimes()
    endpoints = await first.start(Release("1.0.0"), GREEN)
    pids = [i.pid for i in (await first.status(GREEN)).instances]
    await first.close()
    os.kill(pids[0] or 0, signal.SIGKILL)
    second = runtimes(restart=False)
    await second.recover()
    status = await second.status(GREEN)
    assert status.endpoints == (endpoints[1],) and status.instances[0].pid == pids[1]


class TestProcessRuntimeContract(RuntimeContract):
    broken = "1.0.0+broken"  # the example app exits at once with this version

    @pytest.fixture
    def runtime(self, runtimes: Factory) -> Callable[..., Runtime]:
        return lambda instances=2: runtimes(instances=instances, ready_timeout=5.0)


async def test_instances_never_get_the_routers_or_the_apis_ports(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The owned router binds its listeners after the instances start: a port picked for an instance in
    between (free then) made Envoy fail with 'Address already in use' (seen once in CI)."""
    from turnout import config

    reserved = [procs.free_port() for _ in range(4)]
    cfg = config.parse(f"""
[app]
name = "shop"
[runtime]
command = ["{sys.executable}", "{APP}", "--port", "{{port}}", "--version", "{{version}}"]
instances = 2
[router]
kind = "envoy"
production = "127.0.0.1:{reserved[0]}"
test = "127.0.0.1:{reserved[1]}"
admin = "127.0.0.1:{reserved[2]}"
[api]
listen = "127.0.0.1:{reserved[3]}"
""", base_dir=tmp_path)
    assert cfg.driver_env().reserved_ports == frozenset(reserved)
    offered, real = iter([*reserved, *reserved]), procs._random  # the pick lands on each reserved port first

    class Unlucky:
        def choice(self, pool: list[tuple[int, int]]) -> tuple[int, int]:
            return pool[0]

        def randint(self, low: int, high: int) -> int:
            return next(offered, None) or real.randint(low, high)

    monkeypatch.setattr(procs, "_handed_out", {})  # handed out above: only the runtime's avoid stops them now
    monkeypatch.setattr(procs, "_random", Unlucky())
    rt = runtime_from_config(ProcessRuntime, cfg)
    try:
        ports = {e.port for e in await rt.start(Release("1.0"), BLUE)}
        assert len(ports) == 2 and not ports & set(reserved)
    finally:
        await rt.stop(BLUE, drain=1)
        await rt.close()
