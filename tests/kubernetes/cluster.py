"""A fake cluster for the Kubernetes driver tests: kmock over HTTP plus a test-side fake controller.

No kube-apiserver can run here. kmock 0.8's KubernetesEmulator is a stateful JSON store behind
Kubernetes URLs that the official client talks to over real HTTP. It has no controllers, so
FakeController stands in for kube-controller-manager in one namespace: it rolls Deployments out (status
and Pods with IPs) and keeps each Service's EndpointSlice listing the ready pods its selector picks.
Emulator adds the one API-server behaviour the drivers depend on: metadata.generation rises when a
Deployment's or an HTTPRoute's spec changes (kmock stores bodies as sent). Everything here is fake: the readiness,
timings and propagation real controllers have are not modelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

import aiohttp.web
import kmock

from kubernetes import client  # ruff files it as first-party: tests/kubernetes shares its name

MERGE = "application/merge-patch+json"
COLOR_NET = {"blue": 1, "green": 2}  # pod IPs: 10.<color>.<generation>.<n>
GATEWAY = ("gateway.networking.k8s.io", "v1")


class Emulator(kmock.KubernetesEmulator):
    """kmock plus Deployment and HTTPRoute generations, and failures injected by `refuse(request) -> status`."""

    refuse: Callable[[Any], int | None] | None = None

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        # The API server serves the group list at /apis/ too, where the official client asks for it.
        self.fallback["get /apis/"] << self._serve_apis

    async def _handle(self, request: Any) -> aiohttp.web.StreamResponse:
        status = self.refuse(request) if self.refuse is not None and request.resource is not None else None
        if status:
            # a 429 carries Retry-After, as API Priority and Fairness sends it
            headers = {"Retry-After": "1"} if status == 429 else None
            return aiohttp.web.json_response({"kind": "Status", "code": status, "message": "injected failure"},
                                             status=status, headers=headers)
        key, before = None, None
        if (request.resource is not None and request.resource.plural in ("deployments", "httproutes")
                and request.subresource is None and request.action in (kmock.action.CREATE, kmock.action.UPDATE)):
            data = request.data or {}
            key = (request.resource, request.namespace or data.get("metadata", {}).get("namespace"),
                   request.name or data.get("metadata", {}).get("name"))
            if request.action == kmock.action.UPDATE and key in self.objects:
                before = copy.deepcopy(self.objects[key].raw.get("spec"))
        response = await super()._handle(request)
        if key is not None and key in self.objects and not self.objects[key].deleted:
            obj = self.objects[key]
            if obj.raw.get("spec") != before:  # an unchanged spec keeps its generation, as on a real API server
                generation = (obj.raw.get("metadata") or {}).get("generation", 0)
                obj.patch({"metadata": {"generation": generation + 1}})
        return response


class FakeCluster:
    """The emulator on a free loopback port, served from a thread with its own event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="kmock", daemon=True)
        self.thread.start()
        self.emulator: Emulator = self._run(self._emulator())
        self.server: kmock.Server | None = None
        self.port = 0
        self.up()
        conf = client.Configuration()
        conf.host = self.url
        self.api = client.ApiClient(conf)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    async def _emulator(self) -> Emulator:
        emu = Emulator()
        await emu.__aenter__()
        with warnings.catch_warnings():  # kmock 0.8 uses importlib.resources.read_binary (deprecated)
            warnings.simplefilter("ignore", DeprecationWarning)
            emu.resources.load_bundled()  # discovery for the builtin kinds
        return emu

    def up(self) -> None:
        """Serve (again, on the same port after down(): the state survives an outage)."""
        async def start() -> kmock.Server:
            server = kmock.Server(self.emulator, host="127.0.0.1", port=self.port or None)
            await server.__aenter__()
            return server

        self.server = self._run(start())
        self.port = self.server.port

    def down(self) -> None:
        """The API server goes away: nothing listens on its port any more."""
        if self.server is not None:
            self._run(self.server.__aexit__(None, None, None))
            self.server = None

    def close(self) -> None:
        self.down()
        self._run(self.emulator.__aexit__(None, None, None))
        self.api.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()

    # -- the official client, as a test's kubectl ----------------------------------------------
    def call(self, api: str, method: str, *args: Any, **kwargs: Any) -> Any:
        resp = getattr(getattr(client, api)(self.api), method)(*args, _preload_content=False, **kwargs)
        return json.loads(resp.data or b"{}")

    def service(self, ns: str, name: str, color: str | None, labels: dict[str, str] | None = None) -> None:
        selector = {**(labels if labels is not None else {"app": "shop"}), **({"color": color} if color else {})}
        self.call("CoreV1Api", "create_namespaced_service", ns, {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]}})

    def selector(self, ns: str, name: str) -> dict[str, str]:
        selector: dict[str, str] = self.call("CoreV1Api", "read_namespaced_service", name, ns)["spec"]["selector"]
        return selector

    def deployment(self, ns: str, name: str, color: str, *, replicas: int = 0, min_ready: int = 0) -> None:
        labels = {"app": "shop", "color": color}
        self.call("AppsV1Api", "create_namespaced_deployment", ns, {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                         {"name": "sidecar", "image": "envoy:1"},
                         {"name": "app", "image": "registry/shop:0", "ports": [{"containerPort": 8080}],
                          "env": [{"name": "MODE", "value": "prod"}]}]}}}})

    def read_deployment(self, ns: str, name: str) -> Any:
        return self.call("AppsV1Api", "read_namespaced_deployment", name, ns)

    def hpa(self, ns: str, deployment: str, *, min_replicas: int, max_replicas: int) -> None:
        """An autoscaling/v2 HPA on a Deployment (CPU at 60 %: FakeController reads no metrics)."""
        self.call("AutoscalingV2Api", "create_namespaced_horizontal_pod_autoscaler", ns, {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": deployment, "namespace": ns},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
                     "minReplicas": min_replicas, "maxReplicas": max_replicas,
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]}})

    def httproute(self, ns: str, name: str, rules: list[dict[str, Any]], hostnames: list[str] | None = None) -> None:
        """A Gateway API HTTPRoute attached to Gateway `gw` (kmock serves the bundled gateway CRDs' URLs)."""
        self.call("CustomObjectsApi", "create_namespaced_custom_object", *GATEWAY, ns, "httproutes", {
            "apiVersion": "/".join(GATEWAY), "kind": "HTTPRoute", "metadata": {"name": name, "namespace": ns},
            "spec": {"parentRefs": [{"name": "gw"}], "hostnames": hostnames or [], "rules": rules}})

    def read_httproute(self, ns: str, name: str) -> Any:
        return self.call("CustomObjectsApi", "get_namespaced_custom_object", *GATEWAY, ns, "httproutes", name)

    def read_hpa(self, ns: str, name: str) -> Any:
        return self.call("AutoscalingV2Api", "read_namespaced_horizontal_pod_autoscaler", name, ns)


class FakeController:
    """kube-controller-manager's part the drivers rely on, for one namespace, in a thread.

    A Deployment whose spec changed is rolled out `delay` seconds later: its pods are replaced by
    `replicas` Running, Ready pods of the current template, then its status says so; they count as
    available `spec.minReadySeconds` after that. Names in `stuck` never become ready: "timeout" stays
    unready, "deadline" reports ProgressDeadlineExceeded. Each Service gets one EndpointSlice of the
    ready pods its selector picks, unless `endpoints_paused`.

    A Gateway controller, much simplified: each HTTPRoute gets, for each parentRef, Accepted=True and
    ResolvedRefs (False when a backendRef names a Service that does not exist) for its current
    generation, unless `gateway_paused`. No data plane: nothing routes requests.

    The HPA controller, much simplified: an autoscaling/v2 HPA whose Deployment runs (replicas > 0)
    sets its replicas to what `load[<hpa name>]` says the metrics want (default: the current replicas),
    clamped to minReplicas..maxReplicas, at once (no stabilization window, no metrics), and reports
    it in the HPA's status. At 0 replicas it leaves the Deployment alone, as the real one does.
    """

    def __init__(self, cluster: FakeCluster, namespace: str, *, delay: float = 0.3) -> None:
        self.cluster, self.ns, self.delay = cluster, namespace, delay
        self.stuck: dict[str, str] = {}
        self.load: dict[str, int] = {}
        self.endpoints_paused = False
        self.gateway_paused = False
        self._pending: dict[tuple[str, int, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fake-controller", daemon=True)

    def __enter__(self) -> FakeController:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(0.03):
            try:
                self.reconcile()
            except Exception:  # the API server is down in an outage test: try again next tick
                continue

    def _list(self, api: str, method: str) -> list[Any]:
        items: list[Any] = self.cluster.call(api, method, self.ns)["items"]
        return [i for i in items if i["metadata"].get("namespace") == self.ns]

    def reconcile(self) -> None:
        with contextlib.suppress(client.ApiException):  # a test may refuse HPAs to the drivers (and to us)
            for hpa in self._list("AutoscalingV2Api", "list_namespaced_horizontal_pod_autoscaler"):
                self._autoscale(hpa)
        for dep in self._list("AppsV1Api", "list_namespaced_deployment"):
            self._deployment(dep)
        if not self.endpoints_paused:
            pods = self._list("CoreV1Api", "list_namespaced_pod")
            for svc in self._list("CoreV1Api", "list_namespaced_service"):
                self._slice(svc, pods)
        if not self.gateway_paused:
            services = {s["metadata"]["name"] for s in self._list("CoreV1Api", "list_namespaced_service")}
            routes = self.cluster.call("CustomObjectsApi", "list_namespaced_custom_object", *GATEWAY, self.ns,
                                       "httproutes")["items"]
            for route in routes:
                self._accept(route, services)

    def _deployment(self, dep: Any) -> None:
        name, gen = dep["metadata"]["name"], dep["metadata"].get("generation", 0)
        want, st = dep["spec"].get("replicas", 1), dep.get("status") or {}
        rolled = st.get("observedGeneration") == gen and st.get("readyReplicas", 0) == want
        if rolled and st.get("availableReplicas", 0) == want:
            return
        if self.stuck.get(name):
            conditions = [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
                           "message": "Deployment does not have minimum availability."}]
            if self.stuck[name] == "deadline":
                conditions.append({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                   "message": f'ReplicaSet "{name}-x" has timed out progressing.'})
            self._status(name, {"observedGeneration": gen, "replicas": want, "updatedReplicas": want,
                                "readyReplicas": 0, "conditions": conditions})
            return
        since = self._pending.setdefault((name, gen, want), time.monotonic())
        ready_for = time.monotonic() - since - self.delay
        if ready_for < 0:
            return
        available = want if ready_for >= dep["spec"].get("minReadySeconds", 0) else 0
        if rolled:  # the pods are there and Ready: only minReadySeconds was missing
            self._status(name, {"availableReplicas": available})
            return
        for pod in self._list("CoreV1Api", "list_namespaced_pod"):
            if pod["metadata"]["name"].startswith(f"{name}-"):
                self.cluster.call("CoreV1Api", "delete_namespaced_pod", pod["metadata"]["name"], self.ns)
        template = dep["spec"]["template"]["metadata"]
        net = COLOR_NET.get(template.get("labels", {}).get("color", ""), 9)
        for i in range(want):
            self.cluster.call("CoreV1Api", "create_namespaced_pod", self.ns, {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{name}-{gen}-{i}", "namespace": self.ns, "labels": template.get("labels", {}),
                             "annotations": template.get("annotations", {})},
                "status": {"phase": "Running", "podIP": f"10.{net}.{gen % 250}.{i + 1}",
                           "conditions": [{"type": "Ready", "status": "True"}]}})
        self._status(name, {"observedGeneration": gen, "replicas": want, "updatedReplicas": want,
                            "readyReplicas": want, "availableReplicas": available,
                            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                            "message": "Deployment has minimum availability."}]})

    def _autoscale(self, hpa: Any) -> None:
        spec = hpa["spec"]
        ref = spec.get("scaleTargetRef") or {}
        if ref.get("kind") != "Deployment":
            return
        dep = self.cluster.read_deployment(self.ns, ref["name"])
        current = dep["spec"].get("replicas", 1)
        if current == 0:
            return  # implicit maintenance-mode deactivation
        # Read again after the Deployment: the drivers lower minReplicas before they set a smaller size,
        # so an HPA listed before that and a Deployment read after it would undo the size at once.
        spec = self.cluster.read_hpa(self.ns, hpa["metadata"]["name"])["spec"]
        wanted = self.load.get(hpa["metadata"]["name"], current)
        desired = max(spec.get("minReplicas", 1), min(spec["maxReplicas"], wanted))
        if desired != current:
            self.cluster.call("AppsV1Api", "patch_namespaced_deployment", ref["name"], self.ns,
                              {"spec": {"replicas": desired}}, _content_type=MERGE)
        self.cluster.call("AutoscalingV2Api", "patch_namespaced_horizontal_pod_autoscaler_status",
                          hpa["metadata"]["name"], self.ns,
                          {"status": {"currentReplicas": current, "desiredReplicas": desired}}, _content_type=MERGE)

    def _accept(self, route: Any, services: set[str]) -> None:
        gen = route["metadata"].get("generation", 0)
        refs = [r.get("name") for rule in route["spec"].get("rules") or [] for r in rule.get("backendRefs") or []]
        resolved = all(r in services for r in refs)
        conditions = [
            {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "", "observedGeneration": gen},
            {"type": "ResolvedRefs", "status": "True" if resolved else "False",
             "reason": "ResolvedRefs" if resolved else "BackendNotFound", "message": "", "observedGeneration": gen}]
        status = {"parents": [{"parentRef": p, "controllerName": "example.net/fake-gateway", "conditions": conditions}
                              for p in route["spec"].get("parentRefs") or []]}
        if (route.get("status") or {}) != status:
            self.cluster.call("CustomObjectsApi", "patch_namespaced_custom_object_status", *GATEWAY, self.ns,
                              "httproutes", route["metadata"]["name"], {"status": status}, _content_type=MERGE)

    def _status(self, name: str, status: dict[str, Any]) -> None:
        self.cluster.call("AppsV1Api", "patch_namespaced_deployment_status", name, self.ns, {"status": status},
                          _content_type=MERGE)

    def _slice(self, svc: Any, pods: list[Any]) -> None:
        name, selector = svc["metadata"]["name"], svc["spec"].get("selector") or {}
        ready = [p for p in pods if selector and all(p["metadata"].get("labels", {}).get(k) == v
                                                       for k, v in selector.items())]
        endpoints = [{"addresses": [p["status"]["podIP"]], "conditions": {"ready": True},
                      "targetRef": {"kind": "Pod", "name": p["metadata"]["name"]}} for p in ready]
        body = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                "metadata": {"name": f"{name}-abcde", "namespace": self.ns,
                             "labels": {"kubernetes.io/service-name": name}},
                "endpoints": endpoints, "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]}
        try:
            self.cluster.call("DiscoveryV1Api", "patch_namespaced_endpoint_slice", f"{name}-abcde", self.ns,
                              {"endpoints": endpoints}, _content_type=MERGE)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
            self.cluster.call("DiscoveryV1Api", "create_namespaced_endpoint_slice", self.ns, body)
