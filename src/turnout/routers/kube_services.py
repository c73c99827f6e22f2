"""The app's Services as the Kubernetes routers use them: a selector turnout owns, the pods and
endpoints behind it, and the AWS Load Balancer Controller bindings that make a selector switch unsafe.

A Service whose selector turnout switches selects exactly the app's labels plus the color key.
A Service with another key as well (a per-release `version`, say) is refused, and a switch writes
the selector whole, with `null` for every key that is not turnout's: a JSON merge patch keeps map
keys it does not name, so an extra key would survive every switch and could make production
select no pod at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from turnout.errors import RouterError
from turnout.infra.kube import Kube
from turnout.model import Color, Endpoint, Weights

SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # on every EndpointSlice of a Service
TGB = ("elbv2.k8s.aws", "v1beta1", "targetgroupbindings")  # the AWS Load Balancer Controller's binding
COLORS = {c.value for c in Color}


class Services:
    """Reads and switches the Services of one app in one namespace."""

    def __init__(self, kube: Kube, namespace: str, labels: Mapping[str, str], key: str, *,
                 missing_hint: str = "create it (docs/kubernetes.md)") -> None:
        self.kube, self.namespace, self.labels, self.key = kube, namespace, dict(labels), key
        self.missing_hint = missing_hint

    def wanted(self, color: Color) -> dict[str, str]:
        return {**self.labels, self.key: color.value}

    async def read(self, name: str, *, missing_ok: bool = False) -> Any:
        svc = await self.kube.call(f"read Service {self.namespace}/{name}", "CoreV1Api", "read_namespaced_service",
                                   name, self.namespace, none_on=(404,))
        if svc is None and not missing_ok:
            raise RouterError(f"Service {self.namespace}/{name} not found", hint=self.missing_hint)
        return svc

    def selects(self, svc: Any) -> Color | None:
        """The color a Service selects, if its selector is exactly the app's labels plus one color."""
        selector = (svc.get("spec") or {}).get("selector") or {}
        value = selector.get(self.key)
        return Color(value) if value in COLORS and selector == self.wanted(Color(value)) else None

    def color(self, svc: Any) -> Color:
        color = self.selects(svc)
        if color is None:
            name = svc.get("metadata", {}).get("name", "?")
            selector = (svc.get("spec") or {}).get("selector") or "nothing"
            want = ",".join(f"{k}={v}" for k, v in {**self.labels, self.key: "blue|green"}.items())
            raise RouterError(f"Service {self.namespace}/{name} selects {selector}, expected exactly {want}",
                              hint="turnout owns this selector: put the app's labels in router.options.selector "
                                   "and nothing else (a per-release key would make it select no pod)")
        return color

    async def select(self, name: str, color: Color, svc: Any) -> None:
        """Make `svc` (as just read) select exactly the app's `color` pods; a 409 reads it again."""
        for _ in range(3):
            current = (svc.get("spec") or {}).get("selector") or {}
            selector: dict[str, str | None] = {k: None for k in current if k not in self.wanted(color)}
            selector.update(self.wanted(color))
            meta = {"resourceVersion": rv} if (rv := svc.get("metadata", {}).get("resourceVersion")) else {}
            done = await self.kube.patch(f"patch Service {self.namespace}/{name}", "CoreV1Api",
                                         "patch_namespaced_service", name, self.namespace,
                                         {"metadata": meta, "spec": {"selector": selector}}, none_on=(409,))
            if done is not None:
                return
            svc = await self.read(name)
        raise RouterError(f"Service {self.namespace}/{name} kept changing under turnout (409 three times)")

    async def create(self, name: str, color: Color, port: int, target_port: int | str) -> Any:
        body = {"apiVersion": "v1", "kind": "Service",
                # namespace in the body too: the real API server fills it in, kmock does not
                "metadata": {"name": name, "namespace": self.namespace, "labels": {**self.labels}},
                "spec": {"selector": self.wanted(color),
                         "ports": [{"name": "http", "port": port, "targetPort": target_port}]}}
        return await self.kube.call(f"create Service {self.namespace}/{name}", "CoreV1Api",
                                    "create_namespaced_service", self.namespace, body)

    def url(self, svc: Any) -> str:
        ports = (svc.get("spec") or {}).get("ports") or [{}]
        return f"http://{svc['metadata']['name']}.{self.namespace}.svc:{ports[0].get('port', 80)}"

    async def endpoints(self, service: str) -> tuple[Endpoint, ...]:
        """Ready addresses of a Service from its EndpointSlices, else its (legacy) Endpoints object."""
        where = f"{self.namespace}/{service}"
        found = await self.kube.call(f"list EndpointSlices of {where}", "DiscoveryV1Api",
                                     "list_namespaced_endpoint_slice", self.namespace,
                                     label_selector=f"{SERVICE_NAME_LABEL}={service}", none_on=(404,))
        # Filtered here too: an emulator (kmock) ignores labelSelector.
        slices = [s for s in (found or {}).get("items", [])
                  if (s.get("metadata", {}).get("labels") or {}).get(SERVICE_NAME_LABEL) == service]
        out: list[Endpoint] = []
        if slices:
            for s in slices:
                port = ((s.get("ports") or [{}])[0]).get("port") or 80
                for ep in s.get("endpoints") or []:
                    if (ep.get("conditions") or {}).get("ready", True) is not False:
                        out += [Endpoint(ip, port) for ip in ep.get("addresses", [])]
        else:
            legacy = await self.kube.call(f"read Endpoints {where}", "CoreV1Api", "read_namespaced_endpoints",
                                          service, self.namespace, none_on=(404,))
            for subset in (legacy or {}).get("subsets") or []:
                port = ((subset.get("ports") or [{}])[0]).get("port") or 80
                out += [Endpoint(a["ip"], port) for a in subset.get("addresses") or [] if "ip" in a]
        return tuple(sorted(set(out), key=lambda e: (e.host, e.port)))

    async def pods(self) -> dict[str, tuple[Color, bool]]:
        """The app's pods that are not on their way out: IP -> (color, ready)."""
        selector = ",".join(f"{k}={v}" for k, v in self.labels.items())
        found = await self.kube.call(f"list pods in {self.namespace}", "CoreV1Api", "list_namespaced_pod",
                                     self.namespace, label_selector=selector)
        out = {}
        for pod in found.get("items", []):
            meta, status = pod.get("metadata") or {}, pod.get("status") or {}
            labels = meta.get("labels") or {}
            ip = status.get("podIP")
            if ip and not meta.get("deletionTimestamp") and labels.get(self.key) in COLORS and \
                    all(labels.get(k) == v for k, v in self.labels.items()):
                ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in status.get("conditions") or [])
                out[ip] = (Color(labels[self.key]), ready)
        return out

    async def all_ready(self, color: Color, what: str) -> None:
        """Refuse a switch to a color whose pods are not all Ready (or that has none): production
        must not move onto an underprovisioned color, as Argo Rollouts refuses too."""
        pods = [ready for c, ready in (await self.pods()).values() if c is color]
        if not pods or not all(pods):
            raise RouterError(f"refusing to switch {what} to {color}: {sum(pods)} of {len(pods)} {color} pods "
                              f"Ready in {self.namespace}", hint=f"check `kubectl -n {self.namespace} get pods`")

    async def refuse_target_group_bindings(self, services: Iterable[str], *, option: str) -> None:
        """Refuse a Service that an AWS Load Balancer Controller TargetGroupBinding registers by pod IP.

        The controller creates one for every ALB Ingress or NLB Service backend. With IP targets, a
        selector switch makes it deregister every old pod and register every new one, which serve
        nothing until they pass the ALB health check: a window without healthy targets on every switch
        and rollback (argoproj/argo-rollouts#1283, #4259). No such API group served: nothing to refuse.
        """
        group, version, plural = TGB
        # Discovery first: every authenticated user may read it, while listing a resource of a group the
        # cluster does not serve can still be refused by RBAC (403) before it would be a 404.
        served = await self.kube.call("discover API groups", "ApisApi", "get_api_versions")
        if group not in {g.get("name") for g in (served or {}).get("groups", [])}:
            return
        found = await self.kube.call(
            f"list TargetGroupBindings in {self.namespace}", "CustomObjectsApi", "list_namespaced_custom_object",
            group, version, self.namespace, plural, none_on=(404,),
            hints={403: f"grant list on targetgroupbindings.elbv2.k8s.aws (docs/kubernetes.md, RBAC), or set "
                        f"router.options.{option} = false if no AWS Load Balancer Controller runs in this cluster"})
        names = set(services)
        for tgb in (found or {}).get("items", []):
            spec = tgb.get("spec") or {}
            service = (spec.get("serviceRef") or {}).get("name")
            if service in names and spec.get("targetType") != "instance":
                binding = f"{self.namespace}/{tgb.get('metadata', {}).get('name')}"
                raise RouterError(
                    f"Service {self.namespace}/{service} is registered in an AWS target group by pod IP "
                    f"(TargetGroupBinding {binding}, target type {spec.get('targetType') or 'unset'}): on every "
                    "selector switch the AWS Load Balancer Controller deregisters the old pods and registers the "
                    "new ones, which serve nothing until they pass the ALB health check",
                    hint="run one Service and TargetGroupBinding per color and switch the ALB listener with "
                         "router.kind = \"aws_alb\" (docs/kubernetes.md, \"Behind an AWS load balancer\"), or "
                         f"use target type instance; router.options.{option} = false skips this check")


def served_split(served: Sequence[Endpoint], pods: Mapping[str, tuple[Color, bool]], namespace: str,
                 service: str) -> Weights:
    """The split a Service really serves: its endpoints counted by their pods' color."""
    colors = [pods[e.host][0] for e in served if e.host in pods]
    if not colors:
        raise RouterError(f"Service {namespace}/{service} has no ready endpoint of the app's pods: production "
                          "serves nothing", hint=f"kubectl -n {namespace} get endpointslices")
    green = round(100 * colors.count(Color.GREEN) / len(colors))
    return Weights(100 - green, green)
