"""Kubernetes router against kmock, through the official client: the Service selector switch.

Verified here: what the API server stores (both Services' selectors), what observe() reads back,
the switch order on failure, and with verify_endpoints what the EndpointSlices of a fake controller
(tests/kubernetes/cluster.py, standing in for the endpoints controller) list. Never verified here:
traffic. Nothing answers behind a Service without kube-proxy and pods, so the contract's
traffic tests are skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kmock
import pytest

from tests.kubernetes.cluster import FakeCluster, FakeController
from tests.kubernetes.conftest import NS
from turnout.config import AppConfig, Config, DeployConfig, RouterConfig, RuntimeConfig
from turnout.control.local import Stack
from turnout.errors import ConfigError, RouterError
from turnout.model import Color, Endpoint, Weights
from turnout.routers.kubernetes import KubernetesRouter
from turnout.testing import router_from_config
from turnout.testing.contracts import RouterApiContract

BLUE, GREEN = Weights.all_to(Color.BLUE), Weights.all_to(Color.GREEN)


def make_router(cluster: FakeCluster, **options: Any) -> KubernetesRouter:
    cfg = Config(app=AppConfig(name="shop"), router=RouterConfig(
        kind="kubernetes", options={"host": cluster.url, "namespace": NS, **options}))
    return router_from_config(KubernetesRouter, cfg)


def selectors(cluster: FakeCluster) -> tuple[str, str]:
    return cluster.selector(NS, "shop").get("color", ""), cluster.selector(NS, "shop-test").get("color", "")


def patches(cluster: FakeCluster) -> int:
    return len(cluster.emulator[kmock.action.UPDATE])


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            assert await check()
            return
        except (AssertionError, RouterError):
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


@pytest.fixture
def services(cluster: FakeCluster) -> None:
    """The seed's two Services: production `shop` on blue, `shop-test` on the idle green."""
    cluster.service(NS, "shop", "blue")
    cluster.service(NS, "shop-test", "green")


@pytest.mark.usefixtures("services")
async def test_switch_and_rollback(cluster: FakeCluster) -> None:
    router = make_router(cluster)
    await router.prepare({})
    await router.route(GREEN)
    assert selectors(cluster) == ("green", "blue")
    assert cluster.selector(NS, "shop") == {"app": "shop", "color": "green"}  # the app label stays
    state = await router.observe()
    assert (state.weights, state.test_color) == (GREEN, Color.BLUE)
    await router.route(BLUE)  # rollback
    assert selectors(cluster) == ("blue", "green")
    assert (await router.observe()).weights == BLUE


@pytest.mark.usefixtures("services")
async def test_test_service_always_selects_the_idle_color(cluster: FakeCluster) -> None:
    router = make_router(cluster)
    for weights in (GREEN, GREEN, BLUE, GREEN, BLUE):
        await router.route(weights)
        live = weights.dominant
        assert selectors(cluster) == (live.value, live.other.value)
        assert (await router.observe()).test_color is live.other


@pytest.mark.usefixtures("services")
async def test_observe_reads_the_cluster_not_what_it_asked(cluster: FakeCluster) -> None:
    router = make_router(cluster)
    await router.route(BLUE)
    # someone runs `kubectl patch svc shop`: observe() must report it
    cluster.call("CoreV1Api", "patch_namespaced_service", "shop", NS, {"spec": {"selector": {"color": "green"}}},
                 _content_type="application/merge-patch+json")
    state = await router.observe()
    assert (state.weights, state.test_color) == (GREEN, Color.GREEN)  # both on green: honest, not "idle"
    assert state.production_url == f"http://shop.{NS}.svc:80"
    assert state.test_url == f"http://shop-test.{NS}.svc:80"
    assert state.backends == {Color.GREEN: ()}  # no endpoints controller ran: nothing to show
    other = make_router(cluster, production_url="https://shop.example.com", test_url="https://test.example.com")
    assert (await other.observe()).production_url == "https://shop.example.com"


@pytest.mark.usefixtures("services")
async def test_every_call_is_idempotent(cluster: FakeCluster) -> None:
    router = make_router(cluster)
    await router.prepare({})
    await router.prepare({})
    await router.route(GREEN)
    before = patches(cluster)
    await router.route(GREEN)  # already served: reads only, no write
    assert patches(cluster) == before
    assert await router.observe() == await router.observe()
    await router.release()
    await router.release()
    assert (await router.observe()).weights == GREEN  # attached: the Services outlive the router


@pytest.mark.usefixtures("services")
async def test_split_weights_are_refused(cluster: FakeCluster) -> None:
    router = make_router(cluster)
    assert router.can_split is False
    for weights in (Weights(70, 30), Weights(1, 99), Weights(50, 50)):
        with pytest.raises(RouterError, match="all or nothing"):
            await router.route(weights)
    assert selectors(cluster) == ("blue", "green")
    assert patches(cluster) == 0


def test_canary_steps_refused_at_check_config(tmp_path: Path) -> None:
    cfg = Config(app=AppConfig(name="shop"), base_dir=tmp_path, deploy=DeployConfig(steps=[10, 50]),
                 router=RouterConfig(kind="kubernetes"),
                 runtime=RuntimeConfig(kind="kubernetes", options={"image": "shop:{version}"}))
    with pytest.raises(ConfigError, match=r"deploy.steps: the kubernetes router cannot split traffic"):
        Stack.build(cfg)


@pytest.mark.usefixtures("services")
async def test_api_server_gone(cluster: FakeCluster) -> None:
    router = make_router(cluster, timeout=2)
    before = await router.observe()
    cluster.down()
    with pytest.raises(RouterError, match="did not answer"):
        await router.route(GREEN)
    with pytest.raises(RouterError):
        await router.observe()
    cluster.up()  # same port, same stored objects
    assert selectors(cluster) == ("blue", "green")  # nothing changed
    assert await router.observe() == before


@pytest.mark.usefixtures("services")
async def test_failure_before_the_production_patch_leaves_production(cluster: FakeCluster) -> None:
    """Test Service first, production last: a failed production patch changed nothing users see."""
    router = make_router(cluster)
    cluster.emulator.refuse = lambda r: 503 if r.action == kmock.action.UPDATE and r.name == "shop" else None
    with pytest.raises(RouterError, match="503"):
        await router.route(GREEN)
    assert selectors(cluster) == ("blue", "blue")  # production untouched; test moved to the next idle
    assert (await router.observe()).weights == BLUE
    cluster.emulator.refuse = None
    await router.route(BLUE)  # what the orchestrator's restore does
    assert selectors(cluster) == ("blue", "green")


@pytest.mark.usefixtures("services")
async def test_a_throttled_read_is_tried_again_after_retry_after(cluster: FakeCluster) -> None:
    """API Priority and Fairness answers 429 with Retry-After; a 503 comes while an API server restarts.
    Reads wait and try again; a write is never repeated by the client (its caller reads and decides)."""
    answers = [429, 503]

    def flaky(request: Any) -> int | None:
        if request.action == kmock.action.FETCH and request.name == "shop" and answers:
            return answers.pop(0)
        return None

    cluster.emulator.refuse = flaky
    router = make_router(cluster)
    started = time.monotonic()
    assert (await router.observe()).weights == BLUE
    assert answers == [] and time.monotonic() - started >= 1.0  # waited as Retry-After asked
    refused: list[str] = []

    def refuse_patch(request: Any) -> int | None:
        if request.action == kmock.action.UPDATE:
            refused.append(request.name)
            return 503
        return None

    cluster.emulator.refuse = refuse_patch
    with pytest.raises(RouterError, match="503"):
        await router.route(GREEN)
    assert refused == ["shop-test"]  # one attempt, then the error


async def test_prepare_checks_the_services(cluster: FakeCluster) -> None:
    router = make_router(cluster)
    with pytest.raises(RouterError, match=f"Service {NS}/shop not found") as err:
        await router.prepare({})
    assert "manage_services" in err.value.hint
    cluster.service(NS, "shop", None)  # selects both colors
    cluster.service(NS, "shop-test", "green", labels={"app": "other"})
    with pytest.raises(RouterError, match=r"shop selects \{'app': 'shop'\}, expected exactly app=shop,color=blue\|"):
        await router.prepare({})
    cluster.call("CoreV1Api", "patch_namespaced_service", "shop", NS, {"spec": {"selector": {"color": "blue"}}},
                 _content_type="application/merge-patch+json")
    with pytest.raises(RouterError, match="shop-test selects"):  # another app's pods
        await router.prepare({})


async def test_the_selector_is_exactly_the_apps_labels_and_the_color(cluster: FakeCluster) -> None:
    """A merge patch keeps map keys it does not name: an extra key (here the runtime's per-release
    `version` label) would survive every switch and leave production selecting no pod."""
    cluster.service(NS, "shop", "blue", labels={"app": "shop", "version": "1.0"})
    cluster.service(NS, "shop-test", "green")
    router = make_router(cluster)
    with pytest.raises(RouterError, match=r"shop selects .*'version': '1.0'.*, expected exactly app=shop,color=") \
            as err:
        await router.prepare({})
    assert "router.options.selector" in err.value.hint
    await router.route(GREEN)  # what `turnout switch` does: the selector is written whole
    assert cluster.selector(NS, "shop") == {"app": "shop", "color": "green"}
    assert (await router.observe()).weights == GREEN
    await router.prepare({})


async def test_an_alb_target_group_binding_by_pod_ip_is_refused(cluster: FakeCluster, services: None) -> None:
    """Every ALB Ingress in IP mode has one (the AWS Load Balancer Controller creates it): a selector
    switch there deregisters the old pods and registers new ones that are not healthy yet."""
    group, version, plural = "elbv2.k8s.aws", "v1beta1", "targetgroupbindings"
    cluster.emulator.refuse = lambda r: 403 if r.resource is not None and r.resource.plural == plural else None
    await make_router(cluster).prepare({})  # no such API group served (discovery): not listed, so no 403 either
    cluster.emulator.refuse = None
    cluster.emulator.resources["elbv2.k8s.aws/v1beta1/targetgroupbindings"] = {
        "kind": "TargetGroupBinding", "namespaced": True, "verbs": ["get", "list"]}
    await make_router(cluster).prepare({})  # installed, none here

    def binding(name: str, service: str, target_type: str) -> None:
        cluster.call("CustomObjectsApi", "create_namespaced_custom_object", group, version, NS, plural, {
            "apiVersion": f"{group}/{version}", "kind": "TargetGroupBinding",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"serviceRef": {"name": service, "port": 80}, "targetType": target_type,
                     "targetGroupARN": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/k8s/0123"}})

    binding("other-app", "cart", "ip")  # another Service's: not ours to judge
    binding("nodes", "shop", "instance")  # node ports: the targets never change on a switch
    await make_router(cluster).prepare({})
    binding("k8s-shop-shop-0123", "shop", "ip")
    with pytest.raises(RouterError, match=rf"Service {NS}/shop is registered in an AWS target group by pod IP "
                                          rf"\(TargetGroupBinding {NS}/k8s-shop-shop-0123, target type ip\)") as err:
        await make_router(cluster).prepare({})
    assert 'router.kind = "aws_alb"' in err.value.hint and "check_target_group_bindings" in err.value.hint
    await make_router(cluster, check_target_group_bindings=False).prepare({})
    cluster.emulator.refuse = lambda r: 403 if r.resource is not None and r.resource.plural == plural else None
    with pytest.raises(RouterError, match="403") as err:
        await make_router(cluster).prepare({})
    assert "grant list on targetgroupbindings.elbv2.k8s.aws" in err.value.hint


async def test_manage_services_creates_them(cluster: FakeCluster) -> None:
    router = make_router(cluster, manage_services=True, port=8000, target_port="http")
    await router.prepare({})
    assert selectors(cluster) == ("blue", "green")
    svc = cluster.call("CoreV1Api", "read_namespaced_service", "shop", NS)
    assert svc["metadata"]["namespace"] == NS
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http"}]
    await router.prepare({})  # they exist now: nothing more is created
    assert len(cluster.emulator[kmock.action.CREATE]) == 2


async def test_manage_services_follows_an_existing_test_service(cluster: FakeCluster) -> None:
    cluster.service(NS, "shop-test", "blue")
    await make_router(cluster, manage_services=True).prepare({})
    assert selectors(cluster) == ("green", "blue")


@pytest.mark.parametrize(("options", "message"), [
    ({"servce": "x"}, "router.options.servce: unknown key"),
    ({"namespace": "Prod_1"}, "router.options.namespace: String should match pattern"),
    ({"verify_endpoints": "maybe"}, "router.options.verify_endpoints: Input should be a valid boolean"),
    ({"selector": {"app": "shop", "color": "x"}}, "router.options.selector: must not contain selector_key 'color'"),
])
def test_options_are_validated(options: dict[str, Any], message: str) -> None:
    cfg = Config(app=AppConfig(name="shop"), router=RouterConfig(kind="kubernetes", options=options))
    with pytest.raises(ConfigError) as err:
        router_from_config(KubernetesRouter, cfg)
    assert str(err.value).startswith(message)


async def test_no_credentials_is_a_router_error_not_a_crash(tmp_path: Path) -> None:
    cfg = Config(app=AppConfig(name="shop"), base_dir=tmp_path,
                 router=RouterConfig(kind="kubernetes", options={"kubeconfig": "missing.yaml"}))
    router = router_from_config(KubernetesRouter, cfg)  # builds no client yet: check-config needs no cluster
    with pytest.raises(RouterError, match="no cluster credentials"):
        await router.observe()


class TestVerifyEndpoints:
    """Pods and EndpointSlices come from FakeController, a test-side stand-in for the controllers."""

    @pytest.fixture
    def both_colors(self, cluster: FakeCluster, controller: FakeController, services: None) -> FakeController:
        cluster.deployment(NS, "shop-blue", "blue", replicas=2)
        cluster.deployment(NS, "shop-green", "green", replicas=2)
        return controller

    async def test_observe_waits_for_the_endpoints_to_follow(self, cluster: FakeCluster,
                                                             both_colors: FakeController) -> None:
        router = make_router(cluster, verify_endpoints=True)

        async def settled() -> bool:
            state = await router.observe()
            return state.weights == BLUE and len(state.backends[Color.GREEN]) == 2

        await eventually(settled)
        state = await router.observe()
        assert set(state.backends[Color.BLUE]) == {Endpoint("10.1.1.1", 8080), Endpoint("10.1.1.2", 8080)}
        both_colors.endpoints_paused = True
        await router.route(GREEN)
        assert selectors(cluster) == ("green", "blue")
        assert (await router.observe()).weights == BLUE  # the slices still list blue pods: not served yet
        assert (await make_router(cluster).observe()).weights == GREEN  # without verify: the selector
        both_colors.endpoints_paused = False

        async def switched() -> bool:
            return (await router.observe()).weights == GREEN

        await eventually(switched)

    async def test_refuses_a_color_without_ready_pods(self, cluster: FakeCluster,
                                                      both_colors: FakeController) -> None:
        cluster.call("AppsV1Api", "patch_namespaced_deployment", "shop-green", NS, {"spec": {"replicas": 0}},
                     _content_type="application/merge-patch+json")
        router = make_router(cluster, verify_endpoints=True)

        async def green_gone() -> bool:
            return (await router.observe()).backends[Color.GREEN] == ()

        await eventually(green_gone)
        with pytest.raises(RouterError, match="0 of 0 green pods Ready"):
            await router.route(GREEN)
        assert selectors(cluster) == ("blue", "green")

    async def test_refuses_a_color_whose_pods_are_not_all_ready(self, cluster: FakeCluster,
                                                                 both_colors: FakeController) -> None:
        """One Ready pod is not enough: production must not move onto an underprovisioned color."""
        router = make_router(cluster, verify_endpoints=True)

        async def settled() -> bool:
            return len((await router.observe()).backends[Color.GREEN]) == 2

        await eventually(settled)
        pod = next(p["metadata"]["name"] for p in cluster.call("CoreV1Api", "list_namespaced_pod", NS)["items"]
                   if p["metadata"]["labels"]["color"] == "green")
        cluster.call("CoreV1Api", "patch_namespaced_pod_status", pod, NS,
                     {"status": {"conditions": [{"type": "Ready", "status": "False"}]}},
                     _content_type="application/merge-patch+json")
        with pytest.raises(RouterError, match="refusing to switch .* to green: 1 of 2 green pods Ready"):
            await router.route(GREEN)
        assert selectors(cluster) == ("blue", "green")
        cluster.call("CoreV1Api", "patch_namespaced_pod_status", pod, NS,
                     {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                     _content_type="application/merge-patch+json")
        await router.route(GREEN)
        assert selectors(cluster) == ("green", "blue")

    async def test_nothing_served_is_an_error(self, cluster: FakeCluster, services: None) -> None:
        with pytest.raises(RouterError, match="production serves nothing"):
            await make_router(cluster, verify_endpoints=True).observe()


class TestKubernetesContract(RouterApiContract):
    """The contract's API side; the Services are made by manage_services in kmock. Traffic through a
    Service needs kube-proxy and pods, which no emulator here has (docs/kubernetes.md)."""

    router_class = KubernetesRouter
    restartable = False  # attached: nothing of turnout's to restart
    listens_where_configured = False  # its URLs are the Services' (router.options.production_url / test_url)

    @pytest.fixture
    def router_options(self, cluster: FakeCluster) -> dict[str, Any]:
        self.cluster = cluster
        return {"host": cluster.url, "namespace": NS, "manage_services": True, "timeout": 2}

    async def crash(self, router: Any) -> None:
        self.cluster.down()
