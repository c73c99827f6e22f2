"""Static runtime: hosts someone else deploys; turnout validates them and records start/stop."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from turnout import config
from turnout.config import AppConfig, Config, HealthConfig, RuntimeConfig, StateConfig
from turnout.control.local import Stack
from turnout.errors import ConfigError, RuntimeFailure
from turnout.infra.procs import free_port
from turnout.model import Color, Release
from turnout.runtimes.static import StaticRuntime
from turnout.testing import runtime_from_config
from turnout.testing.backends import ColorBackends


@pytest.fixture
def backends() -> Iterator[ColorBackends]:
    with ColorBackends() as b:
        yield b


def make(tmp_path: Path, hosts: dict[str, list[str]], **options: object) -> StaticRuntime:
    cfg = Config(app=AppConfig(name="fleet"), runtime=RuntimeConfig(kind="static", hosts=hosts, options=options),
                 health=HealthConfig(interval=0.02, successes=2, deadline=0.5, timeout=0.5),
                 state=StateConfig(path=str(tmp_path / "state")), base_dir=tmp_path)
    return runtime_from_config(StaticRuntime, cfg)


def addresses(backends: ColorBackends) -> dict[str, list[str]]:
    return {c.value: [e.address for e in backends.endpoints[c]] for c in Color}


async def test_start_validates_hosts_and_status_probes(tmp_path: Path, backends: ColorBackends) -> None:
    runtime = make(tmp_path, addresses(backends))
    assert (await runtime.status(Color.GREEN)).instances == ()  # never started: nothing to route to
    assert await runtime.start(Release("v2"), Color.GREEN) == backends.endpoints[Color.GREEN]
    status = await runtime.status(Color.GREEN)
    assert (status.version, status.healthy, status.endpoints) == ("v2", 2, tuple(backends.endpoints[Color.GREEN]))
    # another turnout command (a new runtime object) sees the same record
    assert (await make(tmp_path, addresses(backends)).status(Color.GREEN)).version == "v2"
    await runtime.stop(Color.GREEN)
    assert (await runtime.status(Color.GREEN)).instances == ()
    await runtime.recover()
    await runtime.close()


async def test_start_fails_on_a_host_that_does_not_answer(tmp_path: Path, backends: ColorBackends) -> None:
    dead = f"127.0.0.1:{free_port()}"
    hosts = addresses(backends) | {"blue": [backends.endpoints[Color.BLUE][0].address, dead]}
    runtime = make(tmp_path, hosts)
    with pytest.raises(RuntimeFailure, match=dead) as err:
        await runtime.start(Release("v1"), Color.BLUE)
    assert "deploys nothing" in err.value.hint
    await runtime.start(Release("v1"), Color.GREEN)
    await runtime.stop(Color.BLUE)
    hosts_up = addresses(backends)
    runtime = make(tmp_path, hosts_up)
    await runtime.start(Release("v1"), Color.BLUE)
    status = await make(tmp_path, hosts).status(Color.BLUE)
    assert [i.healthy for i in status.instances] == [True, False]


async def test_scale_refuses_other_counts(tmp_path: Path, backends: ColorBackends) -> None:
    runtime = make(tmp_path, addresses(backends))
    assert await runtime.scale(Color.BLUE, 2) == backends.endpoints[Color.BLUE]
    with pytest.raises(RuntimeFailure, match=r"cannot scale blue to 3.*runtime.hosts.blue"):
        await runtime.scale(Color.BLUE, 3)
    with pytest.raises(RuntimeFailure, match="cannot start 5 instances"):
        await runtime.start(Release("v1"), Color.BLUE, instances=5)


@pytest.mark.parametrize(("hosts", "options", "message"), [
    ('blue = ["h:1"]', "", "runtime.hosts.green: field required (the static runtime needs both colors)"),
    ('blue = ["h:1"]\ngreen = ["nope"]', "",
     "runtime.hosts.green[0]: expected host:port, got 'nope' (turnout.toml line 8)"),
    ('blue = ["h:1"]\ngreen = []', "", "runtime.hosts.green: List should have at least 1 item"),
    ('blue = ["h:1"]\ngreen = ["h:2"]\nred = ["h:3"]', "", "runtime.hosts.red: Input should be 'blue' or 'green'"),
    ('blue = ["h:1"]\ngreen = ["h:2"]', "[runtime.options]\ncount = 2\n",
     "runtime.options.count: unknown key (turnout.toml line 10)"),
])
def test_config_errors_name_the_key(tmp_path: Path, hosts: str, options: str, message: str) -> None:
    text = f"[app]\nname = 'fleet'\n[runtime]\nkind = 'static'\n\n[runtime.hosts]\n{hosts}\n{options}"
    with pytest.raises(ConfigError) as err:
        Stack.build(config.parse(text, base_dir=tmp_path))
    assert str(err.value).startswith(message), str(err.value)
