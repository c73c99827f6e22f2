"""Gateway API router against kmock (which serves the Gateway API CRDs' URLs), with the fake controllers
of cluster.py for pods, EndpointSlices and a Gateway's status. Verified: the HTTPRoute's weights and
rules as the API stores them, the test Service, and that a change counts only once the Gateway
accepted it. Never verified here: traffic (no Gateway data plane runs)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kubernetes.cluster import GATEWAY, MERGE, FakeCluster, FakeController
from tests.kubernetes.conftest import NS
from tests.kubernetes.test_router import eventually
from turnout.config import AppConfig, Config, RouterConfig
from turnout.errors import ConfigError, RouterError
from turnout.model import Color, Weights
from turnout.routers.gateway_api import GatewayAPIRouter
from turnout.testing import router_from_config
from turnout.testing.contracts import RouterApiContract

BLUE, GREEN = Weights.all_to(Color.BLUE), Weights.all_to(Color.GREEN)


def backend(name: str, weight: int | None = None) -> dict[str, Any]:
    return {"name": name, "port": 80, **({"weight": weight} if weight is not None else {})}


def make_router(cluster: FakeCluster, **options: Any) -> GatewayAPIRouter:
    cfg = Config(app=AppConfig(name="shop"), router=RouterConfig(
        kind="gateway_api", options={"host": cluster.url, "namespace": NS, **options}))
    return router_from_config(GatewayAPIRouter, cfg)


@pytest.fixture
def shop(cluster: FakeCluster, controller: FakeController) -> FakeController:
    """Both colors running (2 pods each), a Service per color, the test Service on green, and an HTTPRoute
    whose `/` rule sends everything to blue and whose `/docs` rule goes to another app."""
    for color in Color:
        cluster.deployment(NS, f"shop-{color}", color.value, replicas=2)
        cluster.service(NS, f"shop-{color}", color.value)
    cluster.service(NS, "shop-test", "green")
    cluster.service(NS, "docs", None, labels={"app": "docs"})
    cluster.httproute(NS, "shop", [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/docs"}}], "backendRefs": [backend("docs")]},
        {"name": "app", "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
         "filters": [{"type": "RequestHeaderModifier",
                      "requestHeaderModifier": {"set": [{"name": "x", "value": "1"}]}}],
         "backendRefs": [backend("shop-blue")]}], hostnames=["shop.example.com"])
    return controller


def weights_of(cluster: FakeCluster, rule: int = 1) -> dict[str, int]:
    refs = cluster.read_httproute(NS, "shop")["spec"]["rules"][rule]["backendRefs"]
    return {r["name"]: r.get("weight", 1) for r in refs}


async def settled(router: GatewayAPIRouter, weights: Weights) -> None:
    async def served() -> bool:
        return (await router.observe()).weights == weights

    await eventually(served)


async def test_canary_steps_then_the_switch(cluster: FakeCluster, shop: FakeController) -> None:
    router = make_router(cluster)
    await router.prepare({})
    await eventually(lambda: _ready(router))
    for weights, test in ((Weights(90, 10), "green"), (Weights(50, 50), "green"), (Weights(30, 70), "blue"),
                          (GREEN, "blue")):
        await router.route(weights)
        assert weights_of(cluster) == {"shop-blue": weights.blue, "shop-green": weights.green}
        assert cluster.selector(NS, "shop-test")["color"] == test  # the color with less weight
        await settled(router, weights)
        state = await router.observe()
        assert (state.test_color.value, state.production_url) == (test, "http://shop.example.com")
    rule = cluster.read_httproute(NS, "shop")["spec"]["rules"][1]
    assert rule["filters"][0]["type"] == "RequestHeaderModifier" and rule["name"] == "app"  # the rest is kept
    assert weights_of(cluster, 0) == {"docs": 1}  # another app's rule: untouched


async def _ready(router: GatewayAPIRouter) -> bool:
    state = await router.observe()
    return all(len(state.backends[c]) == 2 for c in Color)


async def test_a_change_counts_once_the_gateway_accepted_it(cluster: FakeCluster, shop: FakeController) -> None:
    router = make_router(cluster)
    await eventually(lambda: _ready(router))
    await settled(router, BLUE)
    shop.gateway_paused = True
    await router.route(Weights(80, 20))
    with pytest.raises(RouterError, match="HTTPRoute shop-prod/shop is not in force yet: Gateway gw has not yet seen "
                                          "generation 2"):
        await router.observe()
    shop.gateway_paused = False
    await settled(router, Weights(80, 20))
    cluster.call("CoreV1Api", "delete_namespaced_service", "docs", NS)  # the Gateway cannot resolve a backend
    await router.route(Weights(60, 40))

    async def rejected() -> bool:
        try:
            await router.observe()
        except RouterError as exc:
            return "says ResolvedRefs=False (BackendNotFound" in str(exc)
        return False

    await eventually(rejected)
    assert (await make_router(cluster, check_status=False).observe()).weights == Weights(60, 40)


async def test_no_more_traffic_for_a_color_without_ready_endpoints(cluster: FakeCluster,
                                                                    shop: FakeController) -> None:
    cluster.call("AppsV1Api", "patch_namespaced_deployment", "shop-green", NS, {"spec": {"replicas": 0}},
                 _content_type=MERGE)
    router = make_router(cluster)

    async def green_gone() -> bool:
        return (await router.observe()).backends[Color.GREEN] == ()

    await eventually(green_gone)
    with pytest.raises(RouterError, match=f"refusing to send more traffic to green: Service {NS}/shop-green has no "
                                          "ready endpoint"):
        await router.route(Weights(90, 10))
    assert weights_of(cluster) == {"shop-blue": 1}  # nothing written
    await router.route(BLUE)  # blue gets no more than it has: allowed


async def test_every_rule_to_a_color_is_switched_and_a_lagging_one_is_reported(cluster: FakeCluster,
                                                                               shop: FakeController) -> None:
    route = cluster.read_httproute(NS, "shop")
    rules = [*route["spec"]["rules"], {"matches": [{"headers": [{"name": "beta", "value": "1"}]}],
                                       "backendRefs": [backend("shop-green")]}]
    cluster.call("CustomObjectsApi", "patch_namespaced_custom_object", *GATEWAY, NS, "httproutes", "shop",
                 {"spec": {"rules": rules}}, _content_type=MERGE)
    router = make_router(cluster)
    await eventually(lambda: _ready(router))
    await router.route(GREEN)
    assert weights_of(cluster, 1) == weights_of(cluster, 2) == {"shop-blue": 0, "shop-green": 100}
    await settled(router, GREEN)
    rules = cluster.read_httproute(NS, "shop")["spec"]["rules"]
    rules[2]["backendRefs"] = [backend("shop-blue")]  # someone edits one rule back
    cluster.call("CustomObjectsApi", "patch_namespaced_custom_object", *GATEWAY, NS, "httproutes", "shop",
                 {"spec": {"rules": rules}}, _content_type=MERGE)
    await settled(router, BLUE)  # what the `beta` users get: not "switched"


async def test_a_route_someone_set_to_all_zero_weights_is_taken_back(cluster: FakeCluster,
                                                                     shop: FakeController) -> None:
    router = make_router(cluster)
    await eventually(lambda: _ready(router))
    rules = cluster.read_httproute(NS, "shop")["spec"]["rules"]
    rules[1]["backendRefs"] = [backend("shop-blue", 0), backend("shop-green", 0)]
    cluster.call("CustomObjectsApi", "patch_namespaced_custom_object", *GATEWAY, NS, "httproutes", "shop",
                 {"spec": {"rules": rules}}, _content_type=MERGE)
    with pytest.raises(RouterError, match="gives both colors' Services weight 0: it serves nothing"):
        await make_router(cluster, check_status=False).observe()
    await router.route(BLUE)
    assert weights_of(cluster) == {"shop-blue": 100, "shop-green": 0}


@pytest.mark.parametrize(("rules", "message"), [
    ([{"backendRefs": [backend("shop-blue"), backend("docs")]}],
     "HTTPRoute shop-prod/shop rule #1 routes to a color's Service and to docs: turnout cannot switch a split"),
    ([{"backendRefs": [backend("docs")]}], "HTTPRoute shop-prod/shop has no rule whose backendRefs name shop-blue"),
])
async def test_routes_turnout_cannot_switch_are_refused(cluster: FakeCluster, shop: FakeController,
                                                        rules: list[dict[str, Any]], message: str) -> None:
    cluster.call("CustomObjectsApi", "patch_namespaced_custom_object", *GATEWAY, NS, "httproutes", "shop",
                 {"spec": {"rules": rules}}, _content_type=MERGE)
    router = make_router(cluster)
    with pytest.raises(RouterError, match=message):
        await router.prepare({})
    with pytest.raises(RouterError, match=message):
        await router.route(GREEN)


async def test_prepare_checks_the_route_and_the_services(cluster: FakeCluster, controller: FakeController) -> None:
    with pytest.raises(RouterError, match=f"HTTPRoute {NS}/shop not found") as err:
        await make_router(cluster).prepare({})
    assert "backendRefs" in err.value.hint
    cluster.httproute(NS, "shop", [{"backendRefs": [backend("shop-blue")]}])
    with pytest.raises(RouterError, match=f"Service {NS}/shop-blue not found"):
        await make_router(cluster).prepare({})


def test_options_are_validated() -> None:
    cfg = Config(app=AppConfig(name="shop"), router=RouterConfig(kind="gateway_api", options={
        "services": {"blue": "a"}}))
    with pytest.raises(ConfigError, match="router.options.services: name a Service for blue and for green"):
        router_from_config(GatewayAPIRouter, cfg)


class TestGatewayContract(RouterApiContract):
    """The contract's API side. It reads a split back right after route(), so it runs with check_status
    off; waiting for the Gateway's acceptance is tested above. No traffic: no Gateway data plane here."""

    router_class = GatewayAPIRouter
    restartable = False  # attached: nothing of turnout's to restart
    listens_where_configured = False  # its URLs are the HTTPRoute's hostname and the test Service's

    @pytest.fixture
    async def router_options(self, cluster: FakeCluster, shop: FakeController) -> dict[str, Any]:
        self.cluster = cluster
        await eventually(lambda: _ready(make_router(cluster)), 10)  # both colors' pods behind their Services
        return {"host": cluster.url, "namespace": NS, "route": "shop", "test_service": "shop-test",
                "services": {"blue": "shop-blue", "green": "shop-green"}, "selector": {"app": "shop"},
                "check_status": False, "timeout": 2}

    async def crash(self, router: Any) -> None:
        self.cluster.down()
