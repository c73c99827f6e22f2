"""The Role in docs/kubernetes.md allows every call the Kubernetes drivers make, and no more.

Each driver flow below runs against kmock, which records every request; the drivers' own requests
carry the user agent `turnout` (the fake controllers' do not). Each (API group, resource, verb) they
used must be granted by a rule of the documented Role. It proves the Role is complete for these
flows, not that a real API server's authorizer agrees (docs/kubernetes.md, what was not verified).
"""

from __future__ import annotations

import re
from pathlib import Path

import kmock
import yaml

from tests.kubernetes.cluster import FakeCluster, FakeController
from tests.kubernetes.conftest import NS
from tests.kubernetes.test_engine import orchestrator
from turnout.model import Color

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kubernetes.md"
VERBS = {kmock.action.FETCH: "get", kmock.action.LIST: "list", kmock.action.UPDATE: "patch",
         kmock.action.CREATE: "create", kmock.action.DELETE: "delete", kmock.action.WATCH: "watch"}


def documented_role() -> set[tuple[str, str, str]]:
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(), re.S)
    role = next(doc for b in blocks for doc in yaml.safe_load_all(b) if doc and doc.get("kind") == "Role")
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def used_by_turnout(cluster: FakeCluster) -> set[tuple[str, str, str]]:
    return {(r.resource.group, r.resource.plural, VERBS[r.action]) for r in cluster.emulator
            if r.resource is not None and r.headers.get("User-Agent") == "turnout"}


async def test_the_documented_role_allows_every_call(cluster: FakeCluster, controller: FakeController,
                                                     tmp_path: Path) -> None:
    cluster.emulator.resources["elbv2.k8s.aws/v1beta1/targetgroupbindings"] = {
        "kind": "TargetGroupBinding", "namespaced": True, "verbs": ["get", "list"]}
    for color in Color:
        cluster.deployment(NS, f"shop-{color}", color.value)
        cluster.service(NS, f"shop-{color}", color.value)
        cluster.hpa(NS, f"shop-{color}", min_replicas=2, max_replicas=10)
    cluster.service(NS, "shop", "blue")
    cluster.service(NS, "shop-test", "green")
    cluster.httproute(NS, "shop", [{"backendRefs": [{"name": "shop-blue", "port": 80}]}])
    orch = orchestrator(cluster, tmp_path / "k", "preview_instances = 1\nidle_instances = 1")
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    await orch.scale_down(Color.BLUE)
    await orch.router.observe()
    gateway = orchestrator(cluster, tmp_path / "g", router="gateway_api", extra='[deploy]\nsteps = [50]\n'
                           'step_window = "100ms"\nverify_timeout = "5s"')
    await gateway.bootstrap("1.0")  # the state is its own: the Deployments carry on from the first flow
    await gateway.deploy("3.0")
    used = used_by_turnout(cluster)
    assert ("apps", "deployments", "patch") in used and ("gateway.networking.k8s.io", "httproutes", "patch") in used
    assert used - documented_role() == set()  # nothing the Role lacks
    assert documented_role() - used == {("", "endpoints", "get")}  # nor grants in vain (but the fallback)
