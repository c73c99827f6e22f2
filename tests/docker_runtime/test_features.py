"""DockerRuntime options on a real engine: env, env files and secrets, volumes, the image's HEALTHCHECK,
the pull policy, pruning old images, logs; and config errors that name their key."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import docker
import pytest

from tests.docker_runtime.conftest import REPOSITORY, MakeRuntime
from tests.docker_runtime.engines import DockerEngine
from turnout import config as config_mod
from turnout.errors import ConfigError, RuntimeFailure
from turnout.model import Color, Release
from turnout.runtimes.docker.runtime import DockerRuntime
from turnout.testing import runtime_from_config

BLUE, GREEN = Color.BLUE, Color.GREEN
SECRET = "s3cr3t-value-that-must-not-leak"


def derive(engine: DockerEngine, tag: str, *lines: str, repository: str = REPOSITORY) -> str:
    """An image FROM the test app with `lines` added (classic builder, no context, no pull); its id."""
    api = engine.api()
    dockerfile = "\n".join([f"FROM {REPOSITORY}:1.0", *lines, ""]).encode()
    image_id = ""
    for event in api.build(fileobj=io.BytesIO(dockerfile), tag=f"{repository}:{tag}", rm=True, pull=False,
                           decode=True):
        assert "error" not in event, event
        image_id = event.get("aux", {}).get("ID", image_id)
    return image_id


def env_of(api: docker.APIClient, app: str) -> dict[str, str]:
    [c] = api.containers(filters={"label": [f"turnout.app={app}"]})
    env = api.inspect_container(c["Id"])["Config"]["Env"]
    return dict(item.partition("=")[::2] for item in env)


async def test_env_env_files_and_secrets_reach_the_container(docker_runtime: MakeRuntime, docker_engine: DockerEngine,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.env").write_text("# comment\n\nLEVEL=info\nFROM_TURNOUT\nUNSET_ONE\nQUOTED=\"kept as is\"\n")
    (tmp_path / "db_password").write_text(SECRET + "\n")
    monkeypatch.setenv("FROM_TURNOUT", "passed-through")
    rt = docker_runtime(instances=1, env_files=["app.env"], secrets={"DB_PASSWORD": "db_password"},
                        runtime={"env": {"GREETING": "hello {color} {instance}", "LEVEL": "debug"}})
    await rt.start(Release("1.0"), GREEN)
    env = env_of(docker_engine.api(), rt.app)
    assert env["DB_PASSWORD"] == SECRET and env["GREETING"] == "hello green 0" and env["LEVEL"] == "debug"
    assert env["FROM_TURNOUT"] == "passed-through" and "UNSET_ONE" not in env and env["QUOTED"] == '"kept as is"'
    assert (env["PORT"], env["TURNOUT_VERSION"], env["TURNOUT_COLOR"], env["TURNOUT_INSTANCE"]) == (
        "8000", "1.0", "green", "0")


async def test_a_missing_secret_file_is_named_never_its_value(docker_runtime: MakeRuntime, tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text(f"BROKEN LINE {SECRET}\n")
    rt = docker_runtime(instances=1, secrets={"API_KEY": "missing/key"})
    with pytest.raises(RuntimeFailure, match=r"runtime.options.secrets.API_KEY: cannot read .*missing/key: No such"):
        await rt.start(Release("1.0"), GREEN)
    rt = docker_runtime(instances=1, env_files=["app.env"])
    with pytest.raises(RuntimeFailure, match=r"env_files\[0\]: .*app.env line 1 is not KEY=VALUE") as err:
        await rt.start(Release("1.0"), GREEN)
    assert SECRET not in str(err.value)


async def test_volumes_bind_paths_relative_to_the_config(docker_runtime: MakeRuntime, docker_engine: DockerEngine,
                                                         tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    rt = docker_runtime(instances=1, volumes=["./data:/srv/data", "turnout-test-volume:/cache:ro"])
    await rt.start(Release("1.0"), BLUE)
    api = docker_engine.api()
    [c] = api.containers(filters={"label": [f"turnout.app={rt.app}"]})
    mounts = {m["Destination"]: (m["Type"], m.get("Source"), m.get("Name"), m["RW"])
              for m in api.inspect_container(c["Id"])["Mounts"]}
    assert mounts["/srv/data"] == ("bind", str(tmp_path / "data"), None, True)
    assert mounts["/cache"][0::2] == ("volume", "turnout-test-volume") and mounts["/cache"][3] is False
    await rt.stop(BLUE, drain=0)
    api.remove_volume("turnout-test-volume")


async def test_the_images_healthcheck_is_waited_for_and_honoured(docker_runtime: MakeRuntime,
                                                                 docker_engine: DockerEngine) -> None:
    from turnout.cli.docker_image import HEALTHCHECK

    derive(docker_engine, "4.0", HEALTHCHECK)
    derive(docker_engine, "5.0", 'HEALTHCHECK --interval=500ms --retries=1 CMD ["false"]')
    rt = docker_runtime(instances=1)
    await rt.start(Release("4.0"), BLUE)
    api = docker_engine.api()
    [c] = api.containers(filters={"label": [f"turnout.app={rt.app}"]})
    assert api.inspect_container(c["Id"])["State"]["Health"]["Status"] == "healthy"  # not only HTTP: the engine too
    assert (await rt.status(BLUE)).healthy == 1
    # HTTP readiness passes, the HEALTHCHECK fails: not ready
    with pytest.raises(RuntimeFailure, match=r"green instance 0 \(5.0, .*\) is unhealthy by its image's HEALTHCHECK"):
        await rt.start(Release("5.0"), GREEN)
    assert (await rt.status(GREEN)).instances == ()


async def test_pull_never_and_an_unreachable_registry_fail_naming_the_host(docker_runtime: MakeRuntime,
                                                                            docker_engine: DockerEngine) -> None:
    rt = docker_runtime(instances=1, pull="never", image="turnout-test/absent")
    with pytest.raises(RuntimeFailure, match=rf"{docker_engine.url}: image turnout-test/absent:1.0 is not there and "
                                             r"runtime.options.pull is \"never\""):
        await rt.start(Release("1.0"), BLUE)
    # a registry on a closed loopback port: the pull is tried (never off this machine) and fails at once
    rt = docker_runtime(instances=1, pull="missing", image="127.0.0.1:9/turnout-test/app")
    with pytest.raises(RuntimeFailure, match=rf"{docker_engine.url}: pull 127.0.0.1:9/turnout-test/app:1.0: .*"
                                             r"connection refused") as err:
        await rt.start(Release("1.0"), BLUE)
    assert "docker login" in err.value.hint


async def test_old_images_of_the_app_are_pruned_never_one_in_use(docker_runtime: MakeRuntime,
                                                                 docker_engine: DockerEngine) -> None:
    repo = "turnout-test/pruned"
    ids = [derive(docker_engine, f"v{i}", f"LABEL build={i}", repository=repo) for i in range(1, 5)]
    other = derive(docker_engine, "kept", "LABEL build=other", repository="turnout-test/other")
    rt = docker_runtime(instances=1, image=repo, keep_images=1)
    await rt.start(Release("v1"), BLUE)  # the oldest, then in use on blue
    await rt.start(Release("v4"), GREEN)
    api = docker_engine.api()
    tags = sorted(t for i in api.images(name=repo) for t in i["RepoTags"])
    assert tags == [f"{repo}:v1", f"{repo}:v4"]  # v2 and v3 pruned; v1 in use, v4 the newest
    await rt.stop(BLUE, drain=0)
    await rt.start(Release("v4"), BLUE)
    assert sorted(t for i in api.images(name=repo) for t in i["RepoTags"]) == [f"{repo}:v4"]
    assert api.inspect_image(other)["Id"] == other and ids[3] == api.inspect_image(f"{repo}:v4")["Id"]
    await rt.stop(BLUE, drain=0)
    await rt.stop(GREEN, drain=0)
    api.remove_image(f"{repo}:v4")
    api.remove_image("turnout-test/other:kept")


async def test_logs_tail_and_follow(docker_runtime: MakeRuntime) -> None:
    rt = docker_runtime(instances=1)
    [endpoint] = await rt.start(Release("1.0"), BLUE)
    lines = [line async for line in rt.logs(BLUE, lines=5)]
    assert any(ln.instance == "blue-0" and "listening on http://0.0.0.0:8000 version=1.0" in ln.text for ln in lines)
    followed = rt.logs(BLUE, lines=0, follow=True)
    first = asyncio.ensure_future(anext(followed))
    try:
        await asyncio.sleep(0.5)  # following blue-0 now, which prints nothing
        await rt.scale(BLUE, 2)  # a new container: what it prints shows up while following
        async with asyncio.timeout(10):
            line = await first
            while "listening on" not in line.text:
                line = await anext(followed)
        assert line.instance == "blue-1", line
    finally:
        first.cancel()
        await followed.aclose()
    assert endpoint


CONFIG = """
[app]
name = "shop"

[runtime]
kind = "docker"

[runtime.options]
image = "registry.example.com/shop"
{options}
"""


@pytest.mark.parametrize(("options", "error"), [
    ('hosts = ["ssh://deploy@web1"]',
     r"runtime.options.hosts\[0\].publish: containers on ssh://deploy@web1 would publish their ports on its "
     r"loopback .*turnout.toml line 10\)"),
    ('hosts = ["http://web1:2375"]', r"runtime.options.hosts\[0\].url: expected a unix://, tcp:// or ssh:// URL"),
    ('hosts = ["unix:///a.sock", {url = "unix:///a.sock"}]', r"runtime.options.hosts\[1\]: unix:///a.sock is listed "
                                                             r"twice"),
    ('volumes = ["data"]', r"runtime.options.volumes: .*expected source:/target"),
    ('labels = { "turnout.color" = "x" }', r"runtime.options.labels: .*turnout's own"),
    ('pull = "sometimes"', r"runtime.options.pull: Input should be 'always', 'missing' or 'never'"),
])
def test_config_errors_name_the_key(tmp_path: Path, options: str, error: str) -> None:
    path = tmp_path / "turnout.toml"
    path.write_text(CONFIG.format(options=options))
    with pytest.raises(ConfigError, match=error):
        cfg = config_mod.load(path)
        try:
            runtime_from_config(DockerRuntime, cfg)
        except ConfigError as exc:
            raise cfg.locate(exc) from None


def test_a_bad_image_name_and_remote_hosts_done_right(tmp_path: Path) -> None:
    path = tmp_path / "turnout.toml"
    path.write_text(CONFIG.replace("registry.example.com/shop", "Shop:1.0").format(options=""))
    with pytest.raises(ConfigError, match=r"runtime.options.image: .*without :tag"):
        runtime_from_config(DockerRuntime, config_mod.load(path))
    path.write_text(CONFIG.format(options='hosts = ["unix:///var/run/docker.sock", '
                                          '{url = "ssh://deploy@web1", publish = "10.0.0.11"}, '
                                          '{url = "tcp://web2:2376", publish = "0.0.0.0"}]'))
    rt = runtime_from_config(DockerRuntime, config_mod.load(path))
    assert [e.host.router_address for e in rt.engines] == ["127.0.0.1", "10.0.0.11", "web2"]
