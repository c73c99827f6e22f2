"""An owned router that cannot start says why (here: its production port is taken)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from turnout.config import AppConfig, Config, RouterConfig, StateConfig
from turnout.errors import RouterError
from turnout.infra.procs import free_port
from turnout.model import Color, Endpoint
from turnout.routers.envoy.driver import EnvoyRouter
from turnout.routers.haproxy.driver import HAProxyRouter
from turnout.routers.nginx.driver import NginxRouter
from turnout.testing import router_from_config


@pytest.mark.parametrize("cls", [HAProxyRouter, NginxRouter, EnvoyRouter])
async def test_port_in_use_is_a_clear_error(cls: type, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        router_cfg = RouterConfig(kind=cls.kind, production=f"127.0.0.1:{port}", test=f"127.0.0.1:{free_port()}",
                                  admin=f"127.0.0.1:{free_port()}", drain=1)
        cfg = Config(app=AppConfig(name="x"), router=router_cfg, state=StateConfig(path=str(tmp_path)))
        router = router_from_config(cls, cfg)
        try:
            with pytest.raises(RouterError) as err:
                await router.prepare({Color.BLUE: [Endpoint("127.0.0.1", 1)]})
        finally:
            await router.release()
        assert "while starting" in str(err.value) or "ready" in str(err.value)
        assert f"{port}" in str(err.value) or "in use" in str(err.value).lower(), str(err.value)
