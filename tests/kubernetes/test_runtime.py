"""Kubernetes runtime against kmock, through the official client: Deployments per color.

kmock has no controllers, so FakeController (tests/kubernetes/cluster.py) plays the Deployment
controller in the test: `delay` seconds after a spec change it creates Ready pods with IPs and patches
the Deployment's status, or never does for the names in `stuck`. Real readiness (probes, image pulls,
scheduling) is not exercised.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kmock
import pytest

from tests.kubernetes.cluster import FakeCluster, FakeController
from tests.kubernetes.conftest import NS
from tests.kubernetes.test_router import eventually
from turnout.config import AppConfig, Config, RuntimeConfig
from turnout.errors import ConfigError, RuntimeFailure
from turnout.model import Color, Endpoint, EnvStatus, Release
from turnout.runtimes.kubernetes import VERSION_ANNOTATION, KubernetesRuntime
from turnout.testing import runtime_from_config

BLUE, GREEN = Color.BLUE, Color.GREEN


def make_runtime(cluster: FakeCluster, *, ready_timeout: float = 5.0, **options: Any) -> KubernetesRuntime:
    opts = {"host": cluster.url, "namespace": NS, "image": "registry/shop:{version}", "container": "app", **options}
    cfg = Config(app=AppConfig(name="shop"), runtime=RuntimeConfig(
        kind="kubernetes", instances=2, ready_timeout=ready_timeout, options=opts))
    return runtime_from_config(KubernetesRuntime, cfg)


@pytest.fixture
def deployments(cluster: FakeCluster) -> None:
    """The seed's two Deployments (here with a sidecar before the app container), at 0 replicas."""
    cluster.deployment(NS, "shop-blue", "blue")
    cluster.deployment(NS, "shop-green", "green")


@pytest.mark.usefixtures("deployments")
async def test_start_patches_and_waits_for_the_rollout(cluster: FakeCluster, controller: FakeController) -> None:
    runtime = make_runtime(cluster)
    endpoints = await runtime.start(Release("1.2.0"), GREEN)
    dep = cluster.read_deployment(NS, "shop-green")
    # start() returned only once the controller had rolled out this generation, all ready
    assert dep["status"]["observedGeneration"] == dep["metadata"]["generation"] == 2
    assert dep["status"]["readyReplicas"] == dep["spec"]["replicas"] == 2
    sidecar, app = dep["spec"]["template"]["spec"]["containers"]
    assert sidecar == {"name": "sidecar", "image": "envoy:1"}  # the other container is untouched
    assert app == {"name": "app", "image": "registry/shop:1.2.0", "ports": [{"containerPort": 8080}],
                   "env": [{"name": "MODE", "value": "prod"}]}  # and so is the rest of this one
    meta = dep["spec"]["template"]["metadata"]
    assert meta["annotations"] == {VERSION_ANNOTATION: "1.2.0"}
    assert meta["labels"] == {"app": "shop", "color": "green", "version": "1.2.0"}
    assert endpoints == [Endpoint("10.2.2.1", 8080), Endpoint("10.2.2.2", 8080)]  # the pods' IPs
    status = await runtime.status(GREEN)
    assert (status.version, status.healthy, status.endpoints) == ("1.2.0", 2, tuple(endpoints))
    assert await runtime.status(BLUE) == EnvStatus(BLUE, None)  # 0 replicas: nothing runs there


@pytest.mark.usefixtures("deployments")
async def test_start_that_never_becomes_ready_fails_with_the_conditions(cluster: FakeCluster,
                                                                         controller: FakeController) -> None:
    controller.stuck["shop-green"] = "timeout"
    with pytest.raises(RuntimeFailure) as err:
        await make_runtime(cluster, ready_timeout=0.8).start(Release("2.0"), GREEN)
    message = str(err.value)
    assert f"Deployment {NS}/shop-green not ready after 0.8s: 0/2 available, 2 updated, 0 ready" in message
    assert "Available=False (MinimumReplicasUnavailable: Deployment does not have minimum availability.)" in message
    assert err.value.hint == f"kubectl -n {NS} describe deployment shop-green"


@pytest.mark.usefixtures("deployments")
async def test_progress_deadline_fails_at_once(cluster: FakeCluster, controller: FakeController) -> None:
    controller.stuck["shop-green"] = "deadline"
    runtime = make_runtime(cluster, ready_timeout=60)
    with pytest.raises(RuntimeFailure, match="progress deadline passed.*ProgressDeadlineExceeded"):
        await asyncio.wait_for(runtime.start(Release("2.0"), GREEN), 10)


@pytest.mark.usefixtures("deployments")
async def test_scale_stop_status(cluster: FakeCluster, controller: FakeController) -> None:
    runtime = make_runtime(cluster)
    with pytest.raises(RuntimeFailure, match="nothing was started on blue"):
        await runtime.scale(BLUE, 3)
    await runtime.start(Release("1.0"), BLUE)
    assert len(await runtime.scale(BLUE, 3)) == 3
    assert cluster.read_deployment(NS, "shop-blue")["spec"]["replicas"] == 3
    assert (await runtime.status(BLUE)).healthy == 3
    await runtime.stop(BLUE)
    await runtime.stop(BLUE)  # idempotent
    assert cluster.read_deployment(NS, "shop-blue")["spec"]["replicas"] == 0
    assert await runtime.status(BLUE) == EnvStatus(BLUE, None)
    # the release stays in the pod template: warming the color up again is a scale
    assert len(await runtime.scale(BLUE, 1)) == 1
    assert (await runtime.status(BLUE)).version == "1.0"


@pytest.mark.usefixtures("deployments")
async def test_status_without_pods_counts_available_replicas(cluster: FakeCluster) -> None:
    """No pods to list (kmock without the fake controller, or no permission): synthetic instances."""
    cluster.call("AppsV1Api", "patch_namespaced_deployment", "shop-green", NS, {"spec": {
        "replicas": 2, "template": {"metadata": {"annotations": {VERSION_ANNOTATION: "3.1"}}}}},
        _content_type="application/merge-patch+json")
    cluster.call("AppsV1Api", "patch_namespaced_deployment_status", "shop-green", NS,
                 {"status": {"readyReplicas": 2, "availableReplicas": 1}},
                 _content_type="application/merge-patch+json")
    status = await make_runtime(cluster).status(GREEN)
    assert status.version == "3.1"
    assert status.endpoints == (Endpoint(f"shop-green.{NS}.svc", 8080),) * 2
    assert [i.healthy for i in status.instances] == [True, False]


async def test_missing_deployment(cluster: FakeCluster, controller: FakeController) -> None:
    with pytest.raises(RuntimeFailure, match=f"Deployment {NS}/shop-blue not found") as err:
        await make_runtime(cluster).start(Release("1.0"), BLUE)
    assert "manage_deployments" in err.value.hint
    runtime = make_runtime(cluster, manage_deployments=True, container=None, port=9000)
    assert len(await runtime.start(Release("1.0"), BLUE)) == 2
    dep = cluster.read_deployment(NS, "shop-blue")
    labels = {"app": "shop", "color": "blue"}
    assert dep["metadata"]["namespace"] == NS
    assert dep["spec"]["selector"] == {"matchLabels": labels}
    assert dep["spec"]["template"]["spec"]["containers"] == [{
        "name": "app", "image": "registry/shop:1.0", "ports": [{"containerPort": 9000}],
        "readinessProbe": {"httpGet": {"path": "/health/ready", "port": 9000}}}]
    assert (await runtime.status(BLUE)).endpoints == (Endpoint("10.1.1.1", 9000), Endpoint("10.1.1.2", 9000))


async def test_pods_without_the_color_label_are_refused(cluster: FakeCluster) -> None:
    cluster.deployment(NS, "shop-green", "blue")  # a copy-paste slip: green's pods labelled blue
    with pytest.raises(RuntimeFailure, match="not labelled color=green, so the router's Services cannot select"):
        await make_runtime(cluster).start(Release("1.0"), GREEN)


@pytest.mark.usefixtures("deployments")
async def test_conflict_is_read_again(cluster: FakeCluster, controller: FakeController) -> None:
    """A 409 (someone changed the Deployment between our read and our patch) means read and patch again."""
    refused: list[int] = []

    def once(request: Any) -> int | None:
        if request.action == kmock.action.UPDATE and request.name == "shop-blue" and not refused:
            refused.append(409)
            return 409
        return None

    cluster.emulator.refuse = once
    assert len(await make_runtime(cluster).start(Release("1.0"), BLUE)) == 2
    assert refused == [409]


@pytest.mark.usefixtures("deployments")
async def test_version_that_is_no_label_value(cluster: FakeCluster, controller: FakeController) -> None:
    runtime = make_runtime(cluster)
    await runtime.start(Release("1.0"), BLUE)
    await runtime.start(Release("1.1+build.7"), BLUE)  # '+' is not allowed in a label value
    dep = cluster.read_deployment(NS, "shop-blue")
    assert dep["status"]["observedGeneration"] == dep["metadata"]["generation"] == 3  # waited for this rollout
    meta = dep["spec"]["template"]["metadata"]
    assert "version" not in meta["labels"]  # no stale 1.0 label left behind
    assert meta["annotations"][VERSION_ANNOTATION] == "1.1+build.7"
    assert (await runtime.status(BLUE)).version == "1.1+build.7"


@pytest.mark.usefixtures("deployments")
async def test_api_server_gone(cluster: FakeCluster) -> None:
    runtime = make_runtime(cluster, timeout=2)
    cluster.down()
    with pytest.raises(RuntimeFailure, match="did not answer"):
        await runtime.start(Release("1.0"), BLUE)
    with pytest.raises(RuntimeFailure):
        await runtime.status(BLUE)
    cluster.up()
    assert cluster.read_deployment(NS, "shop-blue")["spec"]["replicas"] == 0  # nothing changed
    await runtime.recover()  # the cluster is the state: nothing to adopt
    await runtime.close()


@pytest.mark.parametrize(("options", "message"), [
    ({}, "runtime.options.image: field required"),
    ({"image": "shop:{tag}"}, "runtime.options.image: unknown placeholder {tag}; use {app}, {color}, {version}"),
    ({"image": "x", "deployment": "{app}"}, "runtime.options.deployment: must contain {color}"),
    ({"image": "x", "replicas": 3}, "runtime.options.replicas: unknown key"),
])
def test_options_are_validated(options: dict[str, Any], message: str) -> None:
    cfg = Config(app=AppConfig(name="shop"), runtime=RuntimeConfig(kind="kubernetes", options=options))
    with pytest.raises(ConfigError) as err:
        runtime_from_config(KubernetesRuntime, cfg)
    assert str(err.value).startswith(message)


# -- what a real cluster adds: minReadySeconds, an HPA, GitOps (issue 15) -----------------------------

async def test_start_waits_for_available_pods_not_only_ready_ones(cluster: FakeCluster,
                                                                    controller: FakeController) -> None:
    """With minReadySeconds a Ready pod is not yet available (kubectl rollout status waits for it too)."""
    cluster.deployment(NS, "shop-green", "green", min_ready=1)
    await make_runtime(cluster).start(Release("1.0"), GREEN)
    status = cluster.read_deployment(NS, "shop-green")["status"]
    assert (status["readyReplicas"], status["availableReplicas"]) == (2, 2)


@pytest.mark.usefixtures("deployments")
async def test_a_new_color_starts_at_the_live_colors_autoscaled_size(cluster: FakeCluster,
                                                                      controller: FakeController) -> None:
    """The live color was autoscaled to 5; the new one takes all its traffic at the switch."""
    runtime = make_runtime(cluster)
    await runtime.start(Release("1.0"), BLUE)
    cluster.hpa(NS, "shop-blue", min_replicas=2, max_replicas=10)
    controller.load["shop-blue"] = 5

    async def autoscaled() -> bool:
        return cluster.read_deployment(NS, "shop-blue")["spec"]["replicas"] == 5

    await eventually(autoscaled)
    assert len(await runtime.start(Release("2.0"), GREEN)) == 5  # not runtime.instances = 2
    assert len(await runtime.start(Release("2.0"), GREEN, instances=1)) == 1  # a preview size is taken as asked
    assert len(await make_runtime(cluster, follow_live_size=False).start(Release("2.0"), GREEN)) == 2


@pytest.mark.usefixtures("deployments")
async def test_an_hpa_changing_replicas_during_the_rollout_is_accepted(cluster: FakeCluster,
                                                                        controller: FakeController) -> None:
    cluster.hpa(NS, "shop-green", min_replicas=2, max_replicas=10)
    controller.load["shop-green"] = 4  # a CPU spike at start-up: the HPA wants 4 as soon as pods run
    endpoints = await make_runtime(cluster).start(Release("2.0"), GREEN)
    assert len(endpoints) == 4
    assert cluster.read_deployment(NS, "shop-green")["spec"]["replicas"] == 4


@pytest.mark.usefixtures("deployments")
async def test_the_idle_color_keeps_an_hpa_minimum(cluster: FakeCluster, controller: FakeController) -> None:
    """Scaling the retired color to runtime.idle_instances lowers its HPA's minReplicas to that count
    (remembered in an annotation); the HPA then agrees instead of scaling it straight back up."""
    cluster.hpa(NS, "shop-green", min_replicas=3, max_replicas=10)
    runtime = make_runtime(cluster)
    assert len(await runtime.start(Release("2.0"), GREEN)) == 3  # the HPA's minimum is more than instances
    assert len(await runtime.scale(GREEN, 1)) == 1  # what the retire loop does with idle_instances = 1
    hpa = cluster.read_hpa(NS, "shop-green")
    assert hpa["spec"]["minReplicas"] == 1 and hpa["metadata"]["annotations"] == {"turnout/hpa-min-replicas": "3"}
    await asyncio.sleep(0.3)  # the fake HPA controller ran: it leaves the idle color at its minimum
    assert cluster.read_deployment(NS, "shop-green")["spec"]["replicas"] == 1
    assert len(await runtime.scale(GREEN, 1)) == 1  # repeated: nothing to fight
    assert len(await runtime.start(Release("2.0"), GREEN)) == 3  # warmed up: the HPA gets its own minimum back
    hpa = cluster.read_hpa(NS, "shop-green")
    assert hpa["spec"]["minReplicas"] == 3 and "turnout/hpa-min-replicas" not in (
        hpa["metadata"].get("annotations") or {})


@pytest.mark.usefixtures("deployments")
async def test_hpa_lookup_needs_its_permission_or_the_option_off(cluster: FakeCluster,
                                                                 controller: FakeController) -> None:
    cluster.emulator.refuse = lambda r: 403 if r.resource.plural == "horizontalpodautoscalers" else None
    with pytest.raises(RuntimeFailure, match="403") as err:
        await make_runtime(cluster).start(Release("1.0"), BLUE)
    assert "horizontalpodautoscalers" in err.value.hint and "runtime.options.autoscaling = false" in err.value.hint
    assert len(await make_runtime(cluster, autoscaling=False).start(Release("1.0"), BLUE)) == 2


@pytest.mark.usefixtures("deployments")
async def test_a_manifest_reapplied_during_the_rollout_fails_it(cluster: FakeCluster,
                                                                 controller: FakeController) -> None:
    """A GitOps sync applying `replicas: 0` while turnout waits: a failure that says so, not a success with
    no pods."""
    controller.delay = 1.0
    runtime = make_runtime(cluster)
    task = asyncio.create_task(runtime.start(Release("1.0"), GREEN))
    await asyncio.sleep(0.3)
    cluster.call("AppsV1Api", "patch_namespaced_deployment", "shop-green", NS, {"spec": {"replicas": 0}},
                 _content_type="application/merge-patch+json")
    with pytest.raises(RuntimeFailure, match="was scaled to 0 while turnout waited for 2 replicas") as err:
        await task
    assert "GitOps" in err.value.hint
