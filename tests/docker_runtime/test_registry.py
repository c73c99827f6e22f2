"""Pulls from a real registry (Debian's docker-registry on loopback, basic auth) with the credentials of
the Docker config turnout's user has, as `docker login` writes them: pull missing, always, refused."""

from __future__ import annotations

import base64
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.docker_runtime.conftest import REPOSITORY, MakeRuntime
from tests.docker_runtime.engines import DockerEngine
from tests.docker_runtime.test_features import derive
from turnout.errors import RuntimeFailure
from turnout.infra.procs import free_port
from turnout.model import Color, Release

USER, PASSWORD = "deployer", "turnout-test-password"
HTPASSWD = f"{USER}:$2b$04$Z/mW0g3GqNGuaqacJ8r8ZuvUMDu28cYfdZvq9kXEWiUTtURSIWoZG\n"  # bcrypt of PASSWORD, cost 4


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """A registry that wants a login, on a loopback port (which engines reach without TLS)."""
    binary = "/usr/bin/docker-registry"
    if not Path(binary).exists():
        pytest.fail("docker-registry not found: apt-get install docker-registry (scripts/install-servers.sh does)")
    port = free_port()
    (tmp_path / "htpasswd").write_text(HTPASSWD)
    (tmp_path / "registry.yml").write_text(json.dumps({  # YAML is a superset of JSON
        "version": 0.1, "log": {"level": "warn"}, "http": {"addr": f"127.0.0.1:{port}"},
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "data")}},
        "auth": {"htpasswd": {"realm": "turnout-test", "path": str(tmp_path / "htpasswd")}}}))
    with (tmp_path / "registry.log").open("wb") as log:
        proc = subprocess.Popen([binary, "serve", str(tmp_path / "registry.yml")], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/", trust_env=False).status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "registry.log").read_text()
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def login(folder: Path, registry: str, password: str = PASSWORD) -> None:
    """What `docker login` leaves in $DOCKER_CONFIG/config.json."""
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {registry: {"auth": token}}}))


def push(engine: DockerEngine, source: str, target: str) -> None:
    api = engine.api()
    repository, _, tag = target.rpartition(":")
    api.tag(source, repository, tag)
    for event in api.push(repository, tag=tag, stream=True, decode=True,
                          auth_config={"username": USER, "password": PASSWORD}):
        assert "error" not in event, event
    api.remove_image(target)  # gone from the engine: only the registry has it now


async def test_pull_with_the_docker_configs_credentials(docker_runtime: MakeRuntime, docker_engine: DockerEngine,
                                                        registry: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    image = f"{registry}/turnout-test/app"
    push(docker_engine, f"{REPOSITORY}:1.0", f"{image}:1.0")
    api = docker_engine.api()
    (tmp_path / "docker").mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))

    login(tmp_path / "docker", registry, password="wrong")
    rt = docker_runtime(instances=1, image=image, pull="missing")
    with pytest.raises(RuntimeFailure, match=rf"{docker_engine.url}: .*{image}.*(unauthorized|no basic auth)") as err:
        await rt.start(Release("1.0"), Color.BLUE)
    assert "docker login" in err.value.hint

    login(tmp_path / "docker", registry)
    rt = docker_runtime(instances=1, image=image, pull="missing")  # a new client reads the config again
    await rt.start(Release("1.0"), Color.BLUE)  # pulled: the engine did not have it
    assert (await rt.status(Color.BLUE)).healthy == 1

    # the tag moves in the registry: `missing` keeps what the engine has, `always` gets the new image
    newer = derive(docker_engine, "moved", "LABEL moved=yes")
    push(docker_engine, f"{REPOSITORY}:moved", f"{image}:1.0")
    api.tag(f"{REPOSITORY}:1.0", image, "1.0")  # the old image under the tag, as the engine had it
    await rt.start(Release("1.0"), Color.GREEN)
    assert api.inspect_image(f"{image}:1.0")["Id"] != newer
    rt = docker_runtime(instances=1, image=image, pull="always")
    await rt.start(Release("1.0"), Color.GREEN)
    assert api.inspect_image(f"{image}:1.0")["Id"] == newer
    [green] = api.containers(filters={"label": [f"turnout.app={rt.app}", "turnout.color=green"]})
    assert green["ImageID"] == newer
