"""Kubernetes router: switch a production Service's selector between the colors' pods.

Two Services select the app's pods by its labels plus `color` (router.options.selector_key): the
production Service selects the live color, the test Service always the idle one (the seed's
`myapp` / `myapp-test`, Argo Rollouts' activeService / previewService). A switch is two merge
patches of `spec.selector`. It is all or nothing (can_split = False): a selector picks every pod of a
color or none, so canary steps are refused by check-config.

Switch order: the test Service first, the production Service last. Production's patch is the one
commit point: if anything fails before it, users never noticed, and production always selects a
color whose pods were ready (checked first with verify_endpoints). Between the two patches both
Services select the same color for one API round trip; no check runs during a switch.

What "switched" means here is what the API server stores. kube-proxy applies a new selector on
each node a little later (Argo's docs: eventually; scaleDownDelaySeconds, 30 s by default, exists for
it), so keep the old color warm (deploy.retention) well beyond that. With verify_endpoints, observe()
reports the color of the pods the production Service's EndpointSlices really list, so the
orchestrator waits until the endpoints controller has followed the selector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

from pydantic import Field

from turnout.config import DriverEnv, RouterConfig
from turnout.errors import ConfigError, RouterError
from turnout.infra.kube import NAME, ClientOptions, Kube
from turnout.model import Color, Endpoint, RouteState, Weights

SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # on every EndpointSlice of a Service


class KubernetesRouterOptions(ClientOptions):
    namespace: str = Field(default="default", pattern=NAME)
    service: str | None = Field(default=None, pattern=NAME, description="production Service; default: the app's name")
    test_service: str | None = Field(default=None, pattern=NAME, description="default: <service>-test")
    selector_key: str = "color"
    selector: dict[str, str] | None = Field(default=None,
                                            description="the app's own pod labels; default {\"app\": <app name>}")
    verify_endpoints: bool = Field(default=False,
                                   description="confirm from EndpointSlices + pods which color really serves")
    manage_services: bool = Field(default=False,
                                  description="prepare() creates missing Services (else it only checks them)")
    port: int = Field(default=80, ge=1, le=65535, description="Service port, for manage_services")
    target_port: int | str = Field(default=8080, description="container port, for manage_services")
    production_url: str | None = Field(default=None, description="default: http://<service>.<namespace>.svc:<port>")
    test_url: str | None = None


class KubernetesRouter:
    kind = "kubernetes"
    can_split = False  # a selector switch is all or nothing
    Options = KubernetesRouterOptions

    def __init__(self, options: KubernetesRouterOptions, app: str, kube: Kube) -> None:
        self.options, self.kube = options, kube
        self.namespace = options.namespace
        self.service = options.service or app.lower().replace("_", "-").replace(".", "-")
        self.test_service = options.test_service or f"{self.service}-test"
        self.key = options.selector_key
        self.labels = options.selector if options.selector is not None else {"app": app}
        if self.key in self.labels:
            raise ConfigError(f"must not contain selector_key {self.key!r}", key=("router", "options", "selector"))

    @classmethod
    def from_options(cls, section: RouterConfig, options: KubernetesRouterOptions, env: DriverEnv) -> Self:
        kube = Kube(options, env.base_dir, error=RouterError, section="router",
                    not_found_hint="check router.options.namespace and the Service names")
        return cls(options, env.app, kube)

    # -- the four protocol calls ---------------------------------------------------------------
    async def prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        """Check both Services; `backends` is unused: the Services select the pods by label."""
        prod = await self._read(self.service, missing_ok=self.options.manage_services)
        test = await self._read(self.test_service, missing_ok=self.options.manage_services)
        if prod is None:  # only with manage_services: production on blue unless the test Service says otherwise
            idle = self._selects(test) if test else None
            prod = await self._create(self.service, idle.other if idle else Color.BLUE)
        if test is None:
            test = await self._create(self.test_service, self._color(prod).other)
        for svc in (prod, test):
            self._color(svc)

    async def route(self, weights: Weights) -> None:
        if weights not in (Weights(100, 0), Weights(0, 100)):
            raise RouterError(f"the kubernetes router switches a Service selector, all or nothing: "
                              f"cannot serve {weights.as_dict()}", hint="use a router that can split for canaries")
        live = weights.dominant
        prod, test = await self._read(self.service), await self._read(self.test_service)
        if self.options.verify_endpoints and self._selects(prod) is not live:
            pods = await self._pods()
            if not any(color is live and ready for color, ready in pods.values()):
                raise RouterError(f"refusing to switch {self.service} to {live}: no ready {live} pod in "
                                  f"{self.namespace}", hint=f"check `kubectl -n {self.namespace} get pods`")
        # Test first, production last: production's patch is the commit point (module docstring).
        if self._selects(test) is not live.other:
            await self._select(self.test_service, live.other)
        if self._selects(prod) is not live:
            await self._select(self.service, live)

    async def observe(self) -> RouteState:
        prod, test = await self._read(self.service), await self._read(self.test_service)
        live, idle = self._color(prod), self._color(test)
        served = await self._endpoints(self.service)
        backends = {idle: await self._endpoints(self.test_service), live: served}
        weights = Weights.all_to(live)
        if self.options.verify_endpoints:
            weights = self._served_split(served, await self._pods())
        return RouteState(weights=weights, test_color=idle, backends=backends,
                          production_url=self.options.production_url or self._url(prod),
                          test_url=self.options.test_url or self._url(test))

    async def release(self) -> None:
        """The Services stay: they are the cluster's, and production keeps being served."""
        self.kube.close()

    # -- helpers -------------------------------------------------------------------------------
    async def _read(self, name: str, *, missing_ok: bool = False) -> Any:
        svc = await self.kube.call(f"read Service {self.namespace}/{name}", "CoreV1Api", "read_namespaced_service",
                                   name, self.namespace, none_on=(404,))
        if svc is None and not missing_ok:
            raise RouterError(f"Service {self.namespace}/{name} not found",
                              hint="create it (docs/kubernetes.md) or set router.options.manage_services = true")
        return svc

    def _selects(self, svc: Any) -> Color | None:
        """The color a Service selects, if it selects exactly the app's pods of one color."""
        selector = svc.get("spec", {}).get("selector") or {}
        value = selector.get(self.key)
        if value in {c.value for c in Color} and all(selector.get(k) == v for k, v in self.labels.items()):
            return Color(value)
        return None

    def _color(self, svc: Any) -> Color:
        color = self._selects(svc)
        if color is None:
            name = svc.get("metadata", {}).get("name", "?")
            selector = svc.get("spec", {}).get("selector") or "nothing"
            want = ",".join(f"{k}={v}" for k, v in {**self.labels, self.key: "blue|green"}.items())
            raise RouterError(f"Service {self.namespace}/{name} selects {selector}, expected {want}",
                              hint="its selector must hold the app's labels and the color key")
        return color

    async def _select(self, name: str, color: Color) -> None:
        await self.kube.patch(f"patch Service {self.namespace}/{name}", "CoreV1Api", "patch_namespaced_service",
                              name, self.namespace, {"spec": {"selector": {**self.labels, self.key: color.value}}})

    async def _create(self, name: str, color: Color) -> Any:
        body = {"apiVersion": "v1", "kind": "Service",
                # namespace in the body too: the real API server fills it in, kmock does not
                "metadata": {"name": name, "namespace": self.namespace, "labels": {**self.labels}},
                "spec": {"selector": {**self.labels, self.key: color.value},
                         "ports": [{"name": "http", "port": self.options.port,
                                    "targetPort": self.options.target_port}]}}
        return await self.kube.call(f"create Service {self.namespace}/{name}", "CoreV1Api",
                                    "create_namespaced_service", self.namespace, body)

    def _url(self, svc: Any) -> str:
        ports = svc.get("spec", {}).get("ports") or [{}]
        return f"http://{svc['metadata']['name']}.{self.namespace}.svc:{ports[0].get('port', 80)}"

    async def _endpoints(self, service: str) -> tuple[Endpoint, ...]:
        """Ready addresses of a Service from its EndpointSlices, else its (legacy) Endpoints object.

        Best effort unless verify_endpoints: no controller or no permission means no backends to show.
        """
        try:
            return await self._read_endpoints(service)
        except RouterError:
            if self.options.verify_endpoints:
                raise
            return ()

    async def _read_endpoints(self, service: str) -> tuple[Endpoint, ...]:
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

    async def _pods(self) -> dict[str, tuple[Color, bool]]:
        """The app's pods: IP -> (color, ready)."""
        selector = ",".join(f"{k}={v}" for k, v in self.labels.items())
        found = await self.kube.call(f"list pods in {self.namespace}", "CoreV1Api", "list_namespaced_pod",
                                     self.namespace, label_selector=selector)
        out = {}
        for pod in found.get("items", []):
            labels = pod.get("metadata", {}).get("labels") or {}
            ip = (pod.get("status") or {}).get("podIP")
            if ip and labels.get(self.key) in {c.value for c in Color} and \
                    all(labels.get(k) == v for k, v in self.labels.items()):
                ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in pod["status"].get("conditions") or [])
                out[ip] = (Color(labels[self.key]), ready)
        return out

    def _served_split(self, served: Sequence[Endpoint], pods: dict[str, tuple[Color, bool]]) -> Weights:
        """The split production really has: its endpoints counted by their pods' color."""
        colors = [pods[e.host][0] for e in served if e.host in pods]
        if not colors:
            raise RouterError(f"Service {self.namespace}/{self.service} has no ready endpoint of the app's pods: "
                              "production serves nothing", hint=f"kubectl -n {self.namespace} get endpointslices")
        green = round(100 * colors.count(Color.GREEN) / len(colors))
        return Weights(100 - green, green)
