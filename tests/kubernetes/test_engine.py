"""The engine driving both Kubernetes drivers on kmock (with the fake controllers of cluster.py): what
a re-applied manifest does to a blue-green setup, and the sizes an HPA and a preview ask for.

No checks run (nothing answers behind a Service here), so a deploy is: start, prepare, switch."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kubernetes.cluster import MERGE, FakeCluster, FakeController
from tests.kubernetes.conftest import NS
from turnout import config
from turnout.control.local import Stack, build_router, build_runtime
from turnout.engine.orchestrator import Orchestrator
from turnout.engine.reconciler import Reconciler
from turnout.engine.watch import Tick
from turnout.errors import NotReady
from turnout.model import Color, Weights
from turnout.store import SqliteStore

BLUE, GREEN = Color.BLUE, Color.GREEN


class Quiet:
    """The stabilize watch's samples: nothing answers behind a Service here, so every burst is healthy."""

    async def sample(self) -> Tick:
        return Tick(time.time(), 10, 0, (0.001,) * 10)


def orchestrator(cluster: FakeCluster, tmp_path: Path, runtime: str = "", router: str = "kubernetes",
                 extra: str = "") -> Orchestrator:
    cfg = config.parse(f"""
[app]
name = "shop"
[runtime]
kind = "kubernetes"
instances = 2
ready_timeout = "10s"
{runtime}
[runtime.options]
host = "{cluster.url}"
namespace = "{NS}"
image = "registry/shop:{{version}}"
container = "app"
[router]
kind = "{router}"
[router.options]
host = "{cluster.url}"
namespace = "{NS}"
[stabilize]
window = "0s"
interval = "50ms"
baseline = "100ms"
{extra}
""", base_dir=tmp_path)
    stack = Stack(cfg, SqliteStore(tmp_path / "state.db"), build_router(cfg), build_runtime(cfg), [],
                  sampler_for=lambda color, url: Quiet())
    return stack.orchestrator()


@pytest.fixture
def seed(cluster: FakeCluster, controller: FakeController) -> Iterator[FakeController]:
    """The seed's manifests as applied by a GitOps tool: two Deployments at 0, production on blue."""
    cluster.deployment(NS, "shop-blue", "blue")
    cluster.deployment(NS, "shop-green", "green")
    cluster.service(NS, "shop", "blue")
    cluster.service(NS, "shop-test", "green")
    yield controller


def reapply(cluster: FakeCluster, kind: str, name: str, body: dict[str, object]) -> None:
    """`kubectl apply` / a GitOps sync of the manifest: the fields it sets go back to what Git says."""
    api, method = {"service": ("CoreV1Api", "patch_namespaced_service"),
                   "deployment": ("AppsV1Api", "patch_namespaced_deployment")}[kind]
    cluster.call(api, method, name, NS, body, _content_type=MERGE)


@pytest.mark.usefixtures("seed")
async def test_a_reapplied_service_selector_is_drift_and_blocks_a_deploy(cluster: FakeCluster,
                                                                          tmp_path: Path) -> None:
    orch = orchestrator(cluster, tmp_path)
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    assert cluster.selector(NS, "shop")["color"] == "green"
    reapply(cluster, "service", "shop", {"spec": {"selector": {"app": "shop", "color": "blue"}}})
    with pytest.raises(NotReady, match="the router serves .*'blue': 100.* but the state says green is live"):
        await orch.deploy("3.0")  # would have started 3.0 on blue, which users are served by
    assert cluster.read_deployment(NS, "shop-blue")["spec"]["template"]["spec"]["containers"][1]["image"] \
        == "registry/shop:1.0"
    loop = Reconciler(orch, busy=lambda: False, grace=0)
    await loop.tick()
    assert cluster.selector(NS, "shop") == {"app": "shop", "color": "green"}
    reapply(cluster, "service", "shop", {"spec": {"selector": {"app": "shop", "color": "blue"}}})  # self-heal
    await loop.tick()
    repairs = [e.reason for e in orch.store.history("shop") if e.action == "reconcile"]
    assert len(repairs) == 2 and "back 1 time within 10 min of a repair" in repairs[1]
    await orch.deploy("3.0")  # the router and the state agree again
    assert cluster.selector(NS, "shop")["color"] == "blue"


@pytest.mark.usefixtures("seed")
async def test_a_reapplied_replicas_zero_on_the_live_color_is_repaired(cluster: FakeCluster,
                                                                       tmp_path: Path) -> None:
    orch = orchestrator(cluster, tmp_path)
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    reapply(cluster, "deployment", "shop-green", {"spec": {"replicas": 0}})  # the manifest says `replicas: 0`
    loop = Reconciler(orch, busy=lambda: False, grace=0)
    await loop.tick()
    assert cluster.read_deployment(NS, "shop-green")["spec"]["replicas"] == 2
    assert (await orch.runtime.status(GREEN)).healthy == 2
    assert any("green runs nothing, should run 2.0: started 2.0 on 2 instances" in e.reason
               for e in orch.store.history("shop"))


@pytest.mark.usefixtures("seed")
async def test_preview_size_then_full_size_then_an_idle_hpa_minimum(cluster: FakeCluster, tmp_path: Path) -> None:
    """Validated at preview_instances, scaled to full size before the switch, and the retired color
    scaled to idle_instances with its HPA's minimum lowered to match."""
    for color in Color:
        cluster.hpa(NS, f"shop-{color}", min_replicas=2, max_replicas=10)
    orch = orchestrator(cluster, tmp_path, "preview_instances = 1\nidle_instances = 1")
    await orch.bootstrap("1.0")
    await orch.deploy("2.0", pause=True)
    assert cluster.read_deployment(NS, "shop-green")["spec"]["replicas"] == 1
    assert cluster.read_hpa(NS, "shop-green")["spec"]["minReplicas"] == 1  # or the HPA would undo the preview
    assert cluster.selector(NS, "shop")["color"] == "blue"
    await orch.promote()
    assert cluster.selector(NS, "shop")["color"] == "green"
    assert cluster.read_deployment(NS, "shop-green")["spec"]["replicas"] == 2
    assert cluster.read_hpa(NS, "shop-green")["spec"]["minReplicas"] == 2
    assert await orch.scale_down(BLUE, reason="retention passed")
    assert cluster.read_deployment(NS, "shop-blue")["spec"]["replicas"] == 1
    hpa = cluster.read_hpa(NS, "shop-blue")
    assert (hpa["spec"]["minReplicas"], hpa["metadata"]["annotations"]) == (1, {"turnout/hpa-min-replicas": "2"})


async def test_canary_steps_on_kubernetes_with_the_gateway_api_router(cluster: FakeCluster,
                                                                      controller: FakeController,
                                                                      tmp_path: Path) -> None:
    """`--steps` is refused with the selector router; the gateway_api router splits with HTTPRoute weights,
    and each step counts once the (fake) Gateway accepted it."""
    for color in Color:
        cluster.deployment(NS, f"shop-{color}", color.value)
        cluster.service(NS, f"shop-{color}", color.value)
    cluster.service(NS, "shop-test", "green")
    cluster.httproute(NS, "shop", [{"backendRefs": [{"name": "shop-blue", "port": 80}]}])
    orch = orchestrator(cluster, tmp_path, router="gateway_api",
                        extra='[deploy]\nsteps = [10, 50]\nstep_window = "100ms"\nverify_timeout = "5s"')
    await orch.bootstrap("1.0")
    seen: list[dict[str, int]] = []
    real = orch.router.route

    async def spy(weights: Weights) -> None:
        await real(weights)
        refs = cluster.read_httproute(NS, "shop")["spec"]["rules"][0]["backendRefs"]
        seen.append({r["name"]: r["weight"] for r in refs})

    orch.router.route = spy  # type: ignore[method-assign]
    dep = await orch.deploy("2.0")
    assert dep.active is GREEN
    assert seen == [{"shop-blue": 90, "shop-green": 10}, {"shop-blue": 50, "shop-green": 50},
                    {"shop-blue": 0, "shop-green": 100}]
    assert cluster.selector(NS, "shop-test")["color"] == "blue"
