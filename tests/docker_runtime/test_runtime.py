"""DockerRuntime on a real engine: the runtime contract, labels, ports, stop, restart policy, adoption."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

import docker
import httpx
import pytest

from tests.docker_runtime.conftest import MakeRuntime
from tests.docker_runtime.engines import DockerEngine
from turnout.errors import RuntimeFailure
from turnout.model import Color, EnvStatus, Release
from turnout.runtimes.base import LogSource, Runtime
from turnout.testing.contracts import RuntimeContract

BLUE, GREEN = Color.BLUE, Color.GREEN


class TestDockerRuntimeContract(RuntimeContract):
    broken = "1.0.0+broken"  # the example app never turns ready with this version

    @pytest.fixture
    def runtime(self, docker_runtime: MakeRuntime) -> Callable[..., Runtime]:
        return lambda instances=2: docker_runtime(instances=instances, runtime={"ready_timeout": 3})


async def test_containers_carry_their_labels_and_serve_on_loopback(docker_runtime: MakeRuntime,
                                                                   docker_engine: DockerEngine) -> None:
    rt = docker_runtime(labels={"team": "shop"})
    assert isinstance(rt, Runtime) and isinstance(rt, LogSource)
    endpoints = await rt.start(Release("1.0"), BLUE)
    assert [e.host for e in endpoints] == ["127.0.0.1", "127.0.0.1"]
    async with httpx.AsyncClient(trust_env=False) as client:
        bodies = [(await client.get(e.url + "/")).json() for e in endpoints]
    assert bodies == [{"version": "1.0", "color": "blue", "instance": str(i)} for i in range(2)]
    api = docker_engine.api()
    found = api.containers(filters={"label": [f"turnout.app={rt.app}"]})
    labels = sorted((c["Labels"]["turnout.instance"], c["Labels"]["turnout.color"], c["Labels"]["turnout.version"],
                     c["Labels"]["team"], c["Image"]) for c in found)
    assert labels == [("0", "blue", "1.0", "shop", "turnout-test/app:1.0"),
                      ("1", "blue", "1.0", "shop", "turnout-test/app:1.0")]
    bindings = {c["Labels"]["turnout.instance"]: c["Ports"] for c in found}
    assert all(p[0]["IP"] == "127.0.0.1" and p[0]["PrivatePort"] == 8000 for p in bindings.values())
    await rt.stop(BLUE, drain=1)
    assert api.containers(all=True, filters={"label": [f"turnout.app={rt.app}"]}) == []


async def test_a_crashed_container_is_restarted_by_the_engine_on_the_same_port(docker_runtime: MakeRuntime,
                                                                               docker_engine: DockerEngine) -> None:
    rt = docker_runtime(instances=1)
    [endpoint] = await rt.start(Release("1.0"), GREEN)
    api = docker_engine.api()
    [container] = api.containers(filters={"label": [f"turnout.app={rt.app}"]})
    crash(api, container["Id"])
    await _until(lambda: _restarted(rt, 1))
    status = await rt.status(GREEN)
    assert status.endpoints == (endpoint,) and status.healthy == 1 and status.instances[0].restarts == 1


async def test_restart_off_leaves_a_crashed_container_down(docker_runtime: MakeRuntime,
                                                           docker_engine: DockerEngine) -> None:
    rt = docker_runtime(instances=1, runtime={"restart": False})
    await rt.start(Release("1.0"), GREEN)
    api = docker_engine.api()
    [container] = api.containers(filters={"label": [f"turnout.app={rt.app}"]})
    assert api.inspect_container(container["Id"])["HostConfig"]["RestartPolicy"]["Name"] in ("no", "")
    crash(api, container["Id"])
    await _until(lambda: _healthy(rt, GREEN, 0))
    assert (await rt.status(GREEN)).instances[0].restarts == 0


async def test_a_new_runtime_adopts_what_runs_and_restarts_nothing(docker_runtime: MakeRuntime,
                                                                   docker_engine: DockerEngine) -> None:
    first = docker_runtime()
    endpoints = await first.start(Release("2.0"), BLUE)
    api = docker_engine.api()
    before = {c["Id"]: api.inspect_container(c["Id"])["State"]["StartedAt"]
              for c in api.containers(filters={"label": [f"turnout.app={first.app}"]})}
    await first.close()
    second = docker_runtime()
    await second.recover()
    status = await second.status(BLUE)
    assert status.version == "2.0" and status.healthy == 2 and status.endpoints == tuple(endpoints)
    after = {c["Id"]: api.inspect_container(c["Id"])["State"]["StartedAt"]
             for c in api.containers(filters={"label": [f"turnout.app={first.app}"]})}
    assert after == before
    assert len(await second.scale(BLUE, 3)) == 3  # and drives them as its own


async def test_stop_gives_the_grace_then_kills(docker_runtime: MakeRuntime, docker_engine: DockerEngine) -> None:
    rt = docker_runtime(instances=1)
    [endpoint] = await rt.start(Release("1.0"), BLUE)
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        slow = asyncio.create_task(client.get(endpoint.url + "/slow?ms=1500"))
        await asyncio.sleep(0.3)
        started = asyncio.get_running_loop().time()
        await rt.stop(BLUE, drain=5)
        took = asyncio.get_running_loop().time() - started
        assert (await slow).status_code == 200  # the in-flight request finished during the grace
    assert 0.8 < took < 5, took
    assert await rt.status(BLUE) == EnvStatus(BLUE, None)


async def test_down_removes_only_what_turnout_started(docker_runtime: MakeRuntime,
                                                      docker_engine: DockerEngine) -> None:
    api = docker_engine.api()
    others = [api.create_container("turnout-test/app:1.0", labels=labels, name=None)["Id"] for labels in
              ({"turnout.app": "someone-else", "turnout.color": "blue"}, {"unrelated": "yes"})]
    try:
        rt = docker_runtime()
        await rt.start(Release("1.0"), BLUE)
        for color in Color:
            await rt.stop(color, drain=0)
        left = {c["Id"] for c in api.containers(all=True)}
        assert set(others) <= left
        assert not api.containers(all=True, filters={"label": [f"turnout.app={rt.app}"]})
    finally:
        for cid in others:
            api.remove_container(cid, force=True)


async def test_an_engine_that_does_not_answer_is_named(docker_runtime: MakeRuntime) -> None:
    rt = docker_runtime(hosts=["unix:///nonexistent/docker.sock"])
    with pytest.raises(RuntimeFailure, match=r"docker host unix:///nonexistent/docker.sock is unreachable"):
        await rt.start(Release("1.0"), BLUE)
    assert await rt.status(BLUE) == EnvStatus(BLUE, None)  # nothing known there: nothing reported


def crash(api: docker.APIClient, container_id: str) -> None:
    """SIGKILL the container's process from outside, as a crash would (`docker kill` counts as a stop
    by hand, which restart policies leave alone)."""
    os.kill(api.inspect_container(container_id)["State"]["Pid"], signal.SIGKILL)


async def _restarted(rt: MakeRuntime | object, count: int) -> bool:
    status = await rt.status(GREEN)  # type: ignore[attr-defined]
    return bool(status.instances) and status.instances[0].restarts >= count and status.healthy == 1


async def _healthy(rt: object, color: Color, count: int) -> bool:
    return bool((await rt.status(color)).healthy == count)  # type: ignore[attr-defined]


async def _until(check: Callable[[], object], seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():  # type: ignore[misc]
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
