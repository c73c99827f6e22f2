"""Kubernetes router: switch a production Service's selector between the colors' pods.

Two Services select the app's pods by its labels plus `color` (router.options.selector_key): the
production Service selects the live color, the test Service always the idle one (the seed's
`myapp` / `myapp-test`, Argo Rollouts' activeService / previewService). A switch is two merge
patches of `spec.selector`. It is all or nothing (can_split = False): a selector picks every pod of a
color or none, so canary steps are refused by check-config.

Switch order: the test Service first, the production Service last. Production's patch is the one
commit point: if anything fails before it, users never noticed, and production always selects a
color whose pods were ready (with verify_endpoints, checked first: every pod of the color Ready).
Between the two patches both Services select the same color for one API round trip; no check runs
during a switch. turnout owns the selector: it is written whole (kube_services.py).

prepare() refuses a Service the AWS Load Balancer Controller registers in a target group by pod IP
(a TargetGroupBinding, which every ALB Ingress in IP mode has): there a selector switch opens a
window with no healthy targets. docs/kubernetes.md describes the setup that works instead.

What "switched" means here is what the API server stores. kube-proxy applies a new selector on
each node a little later (Argo's docs: eventually; scaleDownDelaySeconds, 30 s by default, exists for
it), so keep the old color warm (deploy.retention) well beyond that. With verify_endpoints, observe()
reports the color of the pods the production Service's EndpointSlices really list, so the
orchestrator waits until the endpoints controller has followed the selector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Self

from pydantic import Field

from turnout.config import DriverEnv, RouterConfig
from turnout.errors import ConfigError, RouterError
from turnout.infra.kube import NAME, ClientOptions, Kube
from turnout.model import Color, Endpoint, RouteState, Weights
from turnout.routers.kube_services import Services, served_split


class KubernetesRouterOptions(ClientOptions):
    namespace: str = Field(default="default", pattern=NAME, description="the namespace of both Services")
    service: str | None = Field(default=None, pattern=NAME, description="production Service; default: the app's name")
    test_service: str | None = Field(default=None, pattern=NAME, description="default: <service>-test")
    selector_key: str = Field(default="color", description="the pod label whose value is the color")
    selector: dict[str, str] | None = Field(default=None,
                                            description="the app's own pod labels; default {\"app\": <app name>}")
    verify_endpoints: bool = Field(default=False,
                                   description="confirm from EndpointSlices + pods which color really serves, and "
                                               "switch only to a color whose pods are all Ready")
    check_target_group_bindings: bool = Field(
        default=True, description="refuse Services an AWS Load Balancer Controller registers by pod IP")
    manage_services: bool = Field(default=False,
                                  description="prepare() creates missing Services (else it only checks them)")
    port: int = Field(default=80, ge=1, le=65535, description="Service port, for manage_services")
    target_port: int | str = Field(default=8080, description="container port, for manage_services")
    production_url: str | None = Field(default=None, description="default: http://<service>.<namespace>.svc:<port>")
    test_url: str | None = Field(default=None, description="default: http://<test_service>.<namespace>.svc:<port>")


class KubernetesRouter:
    kind = "kubernetes"
    can_split = False  # a selector switch is all or nothing
    selects_instances = True  # the Services find the pods by label: prepare() is given nothing to register
    Options = KubernetesRouterOptions

    def __init__(self, options: KubernetesRouterOptions, app: str, kube: Kube) -> None:
        self.options, self.kube = options, kube
        self.namespace = options.namespace
        self.service = options.service or app.lower().replace("_", "-").replace(".", "-")
        self.test_service = options.test_service or f"{self.service}-test"
        labels = options.selector if options.selector is not None else {"app": app}
        if options.selector_key in labels:
            raise ConfigError(f"must not contain selector_key {options.selector_key!r}",
                              key=("router", "options", "selector"))
        self.services = Services(kube, self.namespace, labels, options.selector_key, missing_hint=(
            "create it (docs/kubernetes.md) or set router.options.manage_services = true"))

    @classmethod
    def from_options(cls, section: RouterConfig, options: KubernetesRouterOptions, env: DriverEnv) -> Self:
        kube = Kube(options, env.base_dir, error=RouterError, section="router",
                    not_found_hint="check router.options.namespace and the Service names")
        return cls(options, env.app, kube)

    # -- the four protocol calls ---------------------------------------------------------------
    async def prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        """Check both Services; `backends` is unused: the Services select the pods by label."""
        svc = self.services
        prod = await svc.read(self.service, missing_ok=self.options.manage_services)
        test = await svc.read(self.test_service, missing_ok=self.options.manage_services)
        if prod is None:  # only with manage_services: production on blue unless the test Service says otherwise
            idle = svc.selects(test) if test else None
            prod = await svc.create(self.service, idle.other if idle else Color.BLUE, self.options.port,
                                    self.options.target_port)
        if test is None:
            test = await svc.create(self.test_service, svc.color(prod).other, self.options.port,
                                    self.options.target_port)
        for service in (prod, test):
            svc.color(service)
        if self.options.check_target_group_bindings:
            await svc.refuse_target_group_bindings((self.service, self.test_service),
                                                   option="check_target_group_bindings")

    async def route(self, weights: Weights) -> None:
        if weights not in (Weights(100, 0), Weights(0, 100)):
            raise RouterError(f"the kubernetes router switches a Service selector, all or nothing: "
                              f"cannot serve {weights.as_dict()}", hint="use a router that can split for canaries")
        live, svc = weights.dominant, self.services
        prod, test = await svc.read(self.service), await svc.read(self.test_service)
        if self.options.verify_endpoints and svc.selects(prod) is not live:
            await svc.all_ready(live, f"{self.namespace}/{self.service}")
        # Test first, production last: production's patch is the commit point (module docstring).
        if svc.selects(test) is not live.other:
            await svc.select(self.test_service, live.other, test)
        if svc.selects(prod) is not live:
            await svc.select(self.service, live, prod)

    async def observe(self) -> RouteState:
        svc = self.services
        prod, test = await svc.read(self.service), await svc.read(self.test_service)
        live, idle = svc.color(prod), svc.color(test)
        served = await self._endpoints(self.service)
        backends = {idle: await self._endpoints(self.test_service), live: served}
        weights = Weights.all_to(live)
        if self.options.verify_endpoints:
            weights = served_split(served, await svc.pods(), self.namespace, self.service)
        return RouteState(weights=weights, test_color=idle, backends=backends,
                          production_url=self.options.production_url or svc.url(prod),
                          test_url=self.options.test_url or svc.url(test))

    async def release(self) -> None:
        """The Services stay: they are the cluster's, and production keeps being served."""
        self.kube.close()

    async def _endpoints(self, service: str) -> tuple[Endpoint, ...]:
        """Best effort unless verify_endpoints: no controller or no permission means no backends to show."""
        try:
            return await self.services.endpoints(service)
        except RouterError:
            if self.options.verify_endpoints:
                raise
            return ()
