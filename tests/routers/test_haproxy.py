"""HAProxy driver: the router contract (owned and attached), reload persistence, slot planning, options."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from turnout.config import AppConfig, Config, RouterConfig
from turnout.errors import ConfigError
from turnout.model import Color, Endpoint, Weights
from turnout.routers.haproxy import runtime_api as api
from turnout.routers.haproxy.driver import HAProxyRouter, plan
from turnout.testing import router_from_config
from turnout.testing.backends import ColorBackends
from turnout.testing.contracts import RouterTrafficContract


async def reload_and_wait(router_socket: str, master_socket: str) -> None:
    """Master-worker reload (async in 2.6): wait until a new worker answers the stats socket."""
    old = (await api.command(router_socket, "show info")).split("Pid: ")[1].split()[0]
    assert (await api.command(master_socket, "reload")) is not None
    for _ in range(300):
        try:
            pid = (await api.command(router_socket, "show info", wait=1)).split("Pid: ")[1].split()[0]
            if pid != old:
                return
        except Exception:
            pass
        await asyncio.sleep(0.02)
    raise AssertionError("HAProxy did not reload within 6 s")


class TestHAProxyContract(RouterTrafficContract):
    router_class = HAProxyRouter

    async def test_reload_keeps_switch_and_instances(self, router: HAProxyRouter, backends: ColorBackends) -> None:
        new_green = backends.add(Color.GREEN)
        await router.prepare({Color.BLUE: backends.endpoints[Color.BLUE], Color.GREEN: [new_green]})
        await router.route(Weights(30, 70))
        before = await router.observe()
        await reload_and_wait(router.socket, router.master_socket)
        assert await router.observe() == before


class TestHAProxyAttachedContract(RouterTrafficContract):
    """An HAProxy turnout did not start: only its stats socket, map files and server-state file."""

    router_class = HAProxyRouter
    restartable = False

    @pytest.fixture
    def router_options(self, tmp_path: Path, ports: tuple[int, int, int]) -> Iterator[dict[str, Any]]:
        folder = tmp_path / "their-haproxy"
        folder.mkdir()
        (folder / api.WEIGHTS_MAP).write_text("green 0\n")
        (folder / api.TEST_MAP).write_text(f"test {api.test_backend(Color.GREEN)}\n")
        empty = [api.Slot(f"s{i}", Endpoint("127.0.0.1", 1), False) for i in range(1, 5)]
        cfg = folder / "haproxy.cfg"
        cfg.write_text(api.render_config(
            production=f"127.0.0.1:{ports[0]}", test=f"127.0.0.1:{ports[1]}", socket=str(folder / "admin.sock"),
            maps_dir=folder, slots={Color.BLUE: empty, Color.GREEN: empty}, maxconn=1000, threads=1,
            timeout_server=30, server_state_file=str(folder / "servers.state")))
        proc = subprocess.Popen(["haproxy", "-W", "-S", str(folder / "master.sock"), "-f", str(cfg)],
                                start_new_session=True)
        for _ in range(250):
            if (folder / "admin.sock").exists():
                break
            assert proc.poll() is None, "HAProxy did not start"
            subprocess.run(["sleep", "0.02"], check=True)
        self.external = proc
        yield {"socket": str(folder / "admin.sock"), "server_state_file": str(folder / "servers.state")}
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)

    async def crash(self, router: Any) -> None:
        os.killpg(self.external.pid, signal.SIGKILL)
        self.external.wait(5)

    async def test_reload_keeps_switch_and_instances(self, router: HAProxyRouter, backends: ColorBackends) -> None:
        new_green = backends.add(Color.GREEN)
        await router.prepare({Color.BLUE: backends.endpoints[Color.BLUE], Color.GREEN: [new_green]})
        await router.route(Weights(30, 70))
        before = await router.observe()
        await reload_and_wait(router.socket, str(Path(router.socket).with_name("master.sock")))
        assert await router.observe() == before


E1, E2, E3 = Endpoint("10.0.0.1", 80), Endpoint("10.0.0.2", 80), Endpoint("10.0.0.3", 80)
EMPTY = Endpoint("127.0.0.1", 1)


@pytest.mark.parametrize(("current", "wanted", "commands"), [
    # nothing to do
    ([api.Slot("s1", E1, True), api.Slot("s2", EMPTY, False)], [E1], []),
    # a new instance goes into a free slot, ready before the old one goes to maint
    ([api.Slot("s1", E1, True), api.Slot("s2", EMPTY, False)], [E2],
     ["set server b/s2 addr 10.0.0.2 port 80", "set server b/s2 state ready", "set server b/s1 state maint"]),
    # a slot that already has the address is reused without an addr change
    ([api.Slot("s1", E1, True), api.Slot("s2", E2, False)], [E1, E2], ["set server b/s2 state ready"]),
    # duplicates count once; everything removed
    ([api.Slot("s1", E1, True), api.Slot("s2", E2, True)], [], ["set server b/s1 state maint",
                                                              "set server b/s2 state maint"]),
])
def test_plan(current: list[api.Slot], wanted: list[Endpoint], commands: list[str]) -> None:
    assert plan("b", current, wanted)[0] == commands


def test_plan_refuses_more_instances_than_slots() -> None:
    with pytest.raises(ConfigError, match=r"router.options.slots"):
        plan("b", [api.Slot("s1", EMPTY, False)], [E1, E2, E3])


@pytest.mark.parametrize(("options", "message"), [
    ({"slotz": 3}, "router.options.slotz: unknown key"),
    ({"maxconn": 20000}, "router.options.maxconn: Input should be less than or equal to 9000"),
    ({"slots": 0}, "router.options.slots: Input should be greater than or equal to 1"),
])
def test_options_are_validated(options: dict[str, Any], message: str) -> None:
    cfg = Config(app=AppConfig(name="x"), router=RouterConfig(kind="haproxy", options=options))
    with pytest.raises(ConfigError) as err:
        router_from_config(HAProxyRouter, cfg)
    assert str(err.value) == message


def test_parse_servers_and_map() -> None:
    text = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_port\n"
            "5 turnout_green 1 s1 127.0.0.1 0 5 1 1\n5 turnout_green 2 s2 127.0.0.1 2 4 1 18082\n\n")
    assert api.parse_servers(text) == [api.Slot("s1", Endpoint("127.0.0.1", 1), False),
                                      api.Slot("s2", Endpoint("127.0.0.1", 18082), True)]
    assert api.parse_map("0x5613f11c9020 green 30\n\n") == {"green": "30"}
