"""Docker fixtures: one engine per session (the running one, or a private dockerd started and stopped
here), a second private engine for the multi-host tests, and the example app's image built once."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker_runtime.engines import DockerEngine, running_engine, start_dockerd, stop_dockerd
from turnout.cli import docker_image
from turnout.config import HealthConfig, RuntimeConfig
from turnout.errors import TurnoutError
from turnout.model import Color
from turnout.runtimes.docker.options import DockerHost, DockerRuntimeOptions, tag_of
from turnout.runtimes.docker.runtime import DockerRuntime

REPOSITORY = "turnout-test/app"
# Every version the tests run: one build of the example app, tagged with each (the version picks its behaviour).
VERSIONS = ("1.0", "2.0", "3.0", "1.0.0", "1.0.0-2", "1.0.0+broken", "2.0+broken", "2.0+fail-after-1")
HEALTH = HealthConfig(interval=0.05, successes=2, timeout=1.0)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    engine = running_engine() or start_dockerd("a")
    yield engine
    stop_dockerd(engine)


@pytest.fixture(scope="session")
def second_engine(docker_engine: DockerEngine) -> Iterator[DockerEngine]:
    """Another engine with its own data root and bridge: a second host, as far as turnout can tell."""
    engine = start_dockerd("b")
    yield engine
    stop_dockerd(engine)


def build_app(engine: DockerEngine, **kwargs: Any) -> str:
    try:
        return docker_image.app_image(engine.api(), [tag_of(v) for v in VERSIONS], repository=REPOSITORY,
                                      log=lambda msg: print(f"[docker] {msg}"), **kwargs)
    except TurnoutError as exc:
        pytest.fail(f"cannot build the example app's image: {exc} ({exc.hint})")


@pytest.fixture(scope="session")
def app_image(docker_engine: DockerEngine) -> str:
    return build_app(docker_engine)


@pytest.fixture(scope="session")
def app_image_b(second_engine: DockerEngine) -> str:
    return build_app(second_engine)


MakeRuntime = Callable[..., DockerRuntime]


@pytest.fixture
async def docker_runtime(docker_engine: DockerEngine, app_image: str, tmp_path: Path
                         ) -> AsyncIterator[MakeRuntime]:
    """A factory of DockerRuntimes on the session's engine, for an app name of this test's own; every
    container they started is removed afterwards."""
    made: list[DockerRuntime] = []
    app = f"t{secrets.token_hex(4)}"

    def make(*, instances: int = 2, hosts: list[Any] | None = None, health: HealthConfig = HEALTH,
             runtime: dict[str, Any] | None = None, **options: Any) -> DockerRuntime:
        section = RuntimeConfig(**{"kind": "docker", "instances": instances, "ready_timeout": 15, "stop_grace": 5,
                                   **(runtime or {})})
        opts = DockerRuntimeOptions.model_validate({"image": REPOSITORY, "pull": "never",
                                                    "hosts": hosts or [docker_engine.url], **options})
        rt = DockerRuntime(app, section, opts, health=health, base_dir=tmp_path, hosts=opts.engines())
        made.append(rt)
        return rt

    yield make
    for rt in made:
        for color in Color:
            with contextlib.suppress(TurnoutError):
                await rt.stop(color, drain=0)
        await rt.close()


def unreachable_host() -> DockerHost:
    return DockerHost(url="unix:///nonexistent/docker.sock")
