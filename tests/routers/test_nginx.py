"""nginx driver: the router contract on Debian's nginx with the Lua module, plus reload persistence."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx

from turnout.model import Color, Weights
from turnout.routers.nginx.driver import NginxRouter, parse_state, state_body
from turnout.testing import router_from_config
from turnout.testing.backends import ColorBackends, colors
from turnout.testing.contracts import RouterTrafficContract


class TestNginxContract(RouterTrafficContract):
    router_class = NginxRouter

    async def test_reload_keeps_switch_and_instances(self, router: NginxRouter, backends: ColorBackends,
                                                     client: httpx.AsyncClient) -> None:
        new_green = backends.add(Color.GREEN)
        await router.prepare({Color.BLUE: backends.endpoints[Color.BLUE], Color.GREEN: [new_green]})
        await router.route(Weights.all_to(Color.GREEN))
        before = await router.observe()
        assert router.pid
        os.kill(router.pid, signal.SIGHUP)  # someone else reloads nginx: init_by_lua reads state.txt again
        await asyncio.sleep(0.3)
        assert await router.observe() == before
        assert set(await colors(client, before.production_url, 5, "/whoami")) == {f"green {new_green.port}"}

    async def test_bad_state_is_refused_and_old_kept(self, router: NginxRouter) -> None:
        before = await router.observe()
        for body in (b"green=130\n", b"test=purple\n", b"colour=blue\n"):
            try:
                await router._put(body)
            except Exception as exc:
                assert "HTTP 400" in str(exc)
            else:
                raise AssertionError(f"nginx accepted {body!r}")
        assert await router.observe() == before


def test_state_text_round_trip() -> None:
    body = state_body(green="30", test="green", peers_blue="127.0.0.1:1,127.0.0.1:2", peers_green="")
    weights, test, peers = parse_state(body.decode())
    assert (weights, test) == (Weights(70, 30), Color.GREEN)
    assert [e.port for e in peers[Color.BLUE]] == [1, 2]
    assert peers[Color.GREEN] == ()


def test_options_are_validated() -> None:
    import pytest

    from turnout.config import AppConfig, Config, RouterConfig
    from turnout.errors import ConfigError

    def make(options: dict[str, object]) -> NginxRouter:
        return router_from_config(NginxRouter, Config(app=AppConfig(name="x"), router=RouterConfig(kind="nginx",
                                                                                            options=options)))

    assert make({"workers": 1}).options.workers == 1
    assert make({}).options.workers == "auto"
    with pytest.raises(ConfigError, match=r"^router.options.workers"):
        make({"workers": "many"})
    with pytest.raises(ConfigError, match=r"^router.options.reload: unknown key"):
        make({"reload": True})
