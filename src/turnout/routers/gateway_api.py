"""Gateway API router: canary steps and blue-green on Kubernetes with HTTPRoute backend weights.

Each color has a Service of its own (`<app>-blue`, `<app>-green`, selecting the app's pods of that
color); an HTTPRoute's rules route to them, and route() sets their backendRefs weights (httproute.py).
The test endpoint is a test Service whose selector always picks the color with less weight, as the
kubernetes router's does. Switch order: the test Service first, the HTTPRoute last (its patch is the
commit point). Before a color gets more traffic, its Service must have a ready endpoint.

"Switched" is what the Gateway controller acknowledges: observe() reports the HTTPRoute's weights
only once every parent Gateway reports Accepted and ResolvedRefs for its current generation, and
raises RouterError while it has not (the orchestrator keeps polling until verify_timeout). How long
the data plane then takes is not visible through the API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

from pydantic import Field

from turnout.config import DriverEnv, RouterConfig
from turnout.errors import ConfigError, RouterError
from turnout.infra.kube import NAME, ClientOptions, Kube
from turnout.model import Color, Endpoint, RouteState, Weights
from turnout.routers import httproute
from turnout.routers.kube_services import Services

GROUP, VERSION, PLURAL = "gateway.networking.k8s.io", "v1", "httproutes"


class GatewayRouterOptions(ClientOptions):
    namespace: str = Field(default="default", pattern=NAME, description="the namespace of the HTTPRoute and Services")
    route: str | None = Field(default=None, pattern=NAME, description="the HTTPRoute; default: the app's name")
    services: dict[Color, str] | None = Field(default=None, description="each color's Service, the HTTPRoute's "
                                                                        "backends; default <app>-blue, <app>-green")
    test_service: str | None = Field(default=None, pattern=NAME,
                                     description="selects the color with less weight; default: <app>-test")
    selector_key: str = Field(default="color", description="the pod label whose value is the color")
    selector: dict[str, str] | None = Field(default=None,
                                            description="the app's own pod labels; default {\"app\": <app name>}")
    check_status: bool = Field(default=True, description="a change counts once every parent Gateway accepted "
                                                         "the HTTPRoute's new generation (status.parents)")
    check_target_group_bindings: bool = Field(
        default=True, description="refuse a test Service an AWS Load Balancer Controller registers by pod IP")
    production_url: str | None = Field(default=None,
                                       description="default: http://<the HTTPRoute's first hostname>")
    test_url: str | None = Field(default=None, description="default: http://<test_service>.<namespace>.svc:<port>")


class GatewayAPIRouter:
    kind = "gateway_api"
    can_split = True
    selects_instances = True  # the Services find the pods by label: prepare() is given nothing to register
    Options = GatewayRouterOptions

    def __init__(self, options: GatewayRouterOptions, app: str, kube: Kube, production: str) -> None:
        slug = app.lower().replace("_", "-").replace(".", "-")
        self.options, self.kube, self.namespace = options, kube, options.namespace
        self.route_name = options.route or slug
        self.backends = options.services or {c: f"{slug}-{c.value}" for c in Color}
        if set(self.backends) != set(Color):
            raise ConfigError("name a Service for blue and for green", key=("router", "options", "services"))
        self.test_service = options.test_service or f"{slug}-test"
        labels = options.selector if options.selector is not None else {"app": app}
        if options.selector_key in labels:
            raise ConfigError(f"must not contain selector_key {options.selector_key!r}",
                              key=("router", "options", "selector"))
        self.services = Services(kube, self.namespace, labels, options.selector_key)
        self.where = f"HTTPRoute {self.namespace}/{self.route_name}"
        self.production = production

    @classmethod
    def from_options(cls, section: RouterConfig, options: GatewayRouterOptions, env: DriverEnv) -> Self:
        kube = Kube(options, env.base_dir, error=RouterError, section="router",
                    not_found_hint="check router.options.namespace, route and the Service names")
        return cls(options, env.app, kube, section.production)

    # -- the four protocol calls ---------------------------------------------------------------
    async def prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        """Check the HTTPRoute, both colors' Services and the test Service; `backends` is unused."""
        route = await self._read()
        httproute.color_rules(route["spec"].get("rules") or [], self.backends, self.namespace, self.where)
        for color in Color:
            await self.services.read(self.backends[color])
        self.services.color(await self.services.read(self.test_service))
        if self.options.check_target_group_bindings:
            await self.services.refuse_target_group_bindings((self.test_service,),
                                                             option="check_target_group_bindings")

    async def route(self, weights: Weights) -> None:
        route, test = await self._read(), await self.services.read(self.test_service)
        rules = list(route["spec"].get("rules") or [])
        mine = httproute.color_rules(rules, self.backends, self.namespace, self.where)
        try:
            now: Weights | None = httproute.split(rules[mine[0]], self.backends, self.namespace, self.where)
        except RouterError:  # every weight 0 (someone's edit): every color that gets traffic must be ready
            now = None
        for color in Color:
            if weights.of(color) and (now is None or weights.of(color) > now.of(color)):
                await self._has_endpoints(color)
        idle = weights.dominant.other
        if self.services.selects(test) is not idle:  # the test Service first: the HTTPRoute is the commit point
            await self.services.select(self.test_service, idle, test)
        for _ in range(3):  # a 409 means someone changed it between our read and our patch: read again
            new = [httproute.switched(r, self.backends, self.namespace, weights) if i in mine else r
                   for i, r in enumerate(rules)]
            meta = {"resourceVersion": rv} if (rv := route["metadata"].get("resourceVersion")) else {}
            done = await self.kube.patch(f"patch {self.where}", "CustomObjectsApi", "patch_namespaced_custom_object",
                                         GROUP, VERSION, self.namespace, PLURAL, self.route_name,
                                         {"metadata": meta, "spec": {"rules": new}}, none_on=(409,))
            if done is not None:
                return
            route = await self._read()
            rules = list(route["spec"].get("rules") or [])
            mine = httproute.color_rules(rules, self.backends, self.namespace, self.where)
        raise RouterError(f"{self.where} kept changing under turnout (409 three times)")

    async def observe(self) -> RouteState:
        route, test = await self._read(), await self.services.read(self.test_service)
        if self.options.check_status and (why := httproute.not_accepted(route)):
            raise RouterError(f"{self.where} is not in force yet: {why}",
                              hint=f"kubectl -n {self.namespace} describe httproute {self.route_name}")
        rules = list(route["spec"].get("rules") or [])
        mine = httproute.color_rules(rules, self.backends, self.namespace, self.where)
        splits = [httproute.split(rules[i], self.backends, self.namespace, self.where) for i in mine]
        weights = next((s for s in splits if s != splits[0]), splits[0])  # a rule that did not follow, if any
        served: dict[Color, tuple[Endpoint, ...]] = {}
        for color in Color:
            try:
                served[color] = await self.services.endpoints(self.backends[color])
            except RouterError:  # no permission to list EndpointSlices: nothing to show
                served[color] = ()
        hostnames = route["spec"].get("hostnames") or []
        return RouteState(weights=weights, test_color=self.services.color(test), backends=served,
                          production_url=self.options.production_url or
                          f"http://{hostnames[0] if hostnames else self.production}",
                          test_url=self.options.test_url or self.services.url(test))

    async def release(self) -> None:
        """The HTTPRoute and the Services stay: they are the cluster's, and production keeps being served."""
        self.kube.close()

    # -- helpers -------------------------------------------------------------------------------
    async def _read(self) -> Any:
        route = await self.kube.call(f"read {self.where}", "CustomObjectsApi", "get_namespaced_custom_object",
                                     GROUP, VERSION, self.namespace, PLURAL, self.route_name, none_on=(404,))
        if route is None:
            raise RouterError(f"{self.where} not found (or the Gateway API CRDs are not installed)",
                              hint="create it with a rule whose backendRefs name the colors' Services "
                                   "(docs/kubernetes.md)")
        return route

    async def _has_endpoints(self, color: Color) -> None:
        """Refuse more traffic for a color whose Service has no ready endpoint: it would answer 5xx."""
        if not await self.services.endpoints(self.backends[color]):
            raise RouterError(f"refusing to send more traffic to {color}: Service {self.namespace}/"
                              f"{self.backends[color]} has no ready endpoint",
                              hint=f"kubectl -n {self.namespace} get endpointslices,pods")
