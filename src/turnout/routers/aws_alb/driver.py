"""AWS Application Load Balancer driver: the seed's AWS setup, switched with one ModifyListener.

One ALB, two target groups (blue, green), a production listener forwarding to the active color's
group and a test listener forwarding to the idle one's. route() rewrites the production listener's
forward action to both groups with the asked weights (one ModifyListener, which the ALB applies as
one change), then points the test listener at the color with less weight. observe() reads the
listeners and target health back from the API, never from memory; ALBs apply a change eventually,
and the orchestrator polls observe() until it reports the asked split.

prepare() finds and checks the resources, and (register_targets, the default) registers each
given color's endpoints as targets of its group before it deregisters the ones that left.

The ALB is someone else's: turnout creates and deletes no AWS resource, and release() does nothing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any, Self

from turnout.config import DriverEnv, RouterConfig
from turnout.errors import ConfigError, RouterError
from turnout.model import Color, Endpoint, RouteState, Weights
from turnout.routers.aws_alb import plan
from turnout.routers.aws_alb.elb import ELB
from turnout.routers.aws_alb.world import ALBOptions, World, check, resolve
from turnout.routers.endpoints import resolve as resolve_host


class ALBRouter:
    kind = "aws_alb"
    can_split = True

    Options = ALBOptions

    def __init__(self, *, production: str, test: str, options: ALBOptions) -> None:
        self.production, self.test, self.options = production, test, options
        self.elb = ELB(region=options.region, endpoint_url=options.endpoint_url, timeout=options.timeout,
                       attempts=options.max_attempts)
        self._world: World | None = None  # ARNs found by prepare(): identities, not state

    @classmethod
    def from_options(cls, section: RouterConfig, options: ALBOptions, env: DriverEnv) -> Self:
        check(options)
        if importlib.util.find_spec("boto3") is None:
            raise ConfigError("aws_alb needs boto3, which is not installed", key=("router", "kind"),
                              hint="pip install 'turnout[aws]'")
        return cls(production=section.production, test=section.test, options=options)

    # -- the four protocol calls ---------------------------------------------------------------
    async def prepare(self, backends: Mapping[Color, Sequence[Endpoint]]) -> None:
        world = self._world = await resolve(self.elb, self.options)
        if self.options.deregistration_delay is not None:
            delay = str(round(self.options.deregistration_delay))
            for color in Color:
                await self.elb.call("ModifyTargetGroupAttributes", f"target group {world.groups[color]} ({color})",
                                    TargetGroupArn=world.groups[color],
                                    Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": delay}])
        if not self.options.register_targets:
            return  # something else (an Auto Scaling group, ECS) keeps the targets
        # Every endpoint is checked before the first change: a bad green one leaves blue untouched too.
        wanted = {Color(c): await self._targets(world, Color(c), eps) for c, eps in backends.items()}
        for color, targets in wanted.items():
            await self._sync(world, color, targets)

    async def route(self, weights: Weights) -> None:
        world = await self._ensure()
        # moto (and a racing delete in AWS) accepts a forward to a target group that does not exist:
        # both groups are described first, so a missing one fails here with nothing changed.
        listeners, _ = await asyncio.gather(
            self._listeners(world),
            self.elb.call("DescribeTargetGroups", f"target groups {', '.join(world.groups.values())}",
                          TargetGroupArns=[world.groups[c] for c in Color]))
        prod, test = listeners[world.production], listeners[world.test]
        idle = weights.dominant.other
        _, prod_forward = plan.forward_action(prod["DefaultActions"], world.production)
        _, test_forward = plan.forward_action(test["DefaultActions"], world.test)
        changed = False
        if plan.forwarded(prod_forward) != {world.groups[c]: weights.of(c) for c in Color}:
            new = plan.production_forward(world.groups, weights, prod_forward)
            await self._modify(world.production, plan.with_forward(prod["DefaultActions"], world.production, new))
            changed = True
        if {arn for arn, w in plan.forwarded(test_forward).items() if w > 0} == {world.groups[idle]}:
            return
        try:
            new = plan.test_forward(world.groups[idle])
            await self._modify(world.test, plan.with_forward(test["DefaultActions"], world.test, new))
        except RouterError as exc:
            if not changed:
                raise
            # All or nothing: put production back as it was.
            raise await self._put_back(world.production, prod["DefaultActions"], exc) from None

    async def observe(self) -> RouteState:
        world = await self._ensure()
        listeners, *health = await asyncio.gather(self._listeners(world), *(self._health(world, c) for c in Color))
        prod, test = listeners[world.production], listeners[world.test]
        weights = plan.split(plan.forwarded(plan.forward_action(prod["DefaultActions"], world.production)[1]),
                             world.groups, world.production)
        test_color = plan.only_color(plan.forwarded(plan.forward_action(test["DefaultActions"], world.test)[1]),
                                     world.groups, world.test)
        return RouteState(weights=weights, test_color=test_color,
                          backends={c: plan.serving(h) for c, h in zip(Color, health, strict=True)},
                          production_url=f"{_scheme(prod)}://{self.production}",
                          test_url=f"{_scheme(test)}://{self.test}")

    async def release(self) -> None:
        """Nothing to stop: the ALB keeps serving the last split, as it should."""

    # -- helpers -------------------------------------------------------------------------------
    async def _ensure(self) -> World:
        if self._world is None:  # route()/observe() before prepare(), e.g. `resume` after a crash
            self._world = await resolve(self.elb, self.options)
        return self._world

    async def _listeners(self, world: World) -> dict[str, dict[str, Any]]:
        found = await self.elb.call("DescribeListeners", f"listeners {world.production}, {world.test}",
                                    ListenerArns=[world.production, world.test])
        by_arn = {str(x["ListenerArn"]): x for x in found["Listeners"]}
        for role, arn in (("production", world.production), ("test", world.test)):
            if arn not in by_arn or by_arn[arn].get("LoadBalancerArn") != world.load_balancer:
                raise RouterError(f"AWS ALB: {role} listener {arn} is no longer a listener of {world.load_balancer}",
                                  hint="run prepare again (`turnout up`) after changing the load balancer")
        return by_arn

    async def _health(self, world: World, color: Color) -> dict[plan.Target, str]:
        group = world.groups[color]
        found = await self.elb.call("DescribeTargetHealth", f"target group {group} ({color})", TargetGroupArn=group)
        return plan.registered(found["TargetHealthDescriptions"], world.ports[color])

    async def _targets(self, world: World, color: Color, endpoints: Sequence[Endpoint]) -> list[plan.Target]:
        out = []
        for endpoint in endpoints:
            ip = world.target_types[color] == "ip" and not _is_ip(endpoint.host)
            target = await asyncio.to_thread(resolve_host, endpoint) if ip else endpoint  # DNS lookups block
            out.append(plan.target_of(target, world.target_types[color], world.groups[color]))
        return out

    async def _sync(self, world: World, color: Color, wanted: list[plan.Target]) -> None:
        group = world.groups[color]
        register, deregister = plan.changes(await self._health(world, color), wanted)
        for op, targets in (("RegisterTargets", register), ("DeregisterTargets", deregister)):
            if targets:
                await self.elb.call(op, f"target group {group} ({color})", TargetGroupArn=group,
                                    Targets=[{"Id": i, "Port": p} for i, p in targets])

    async def _modify(self, listener: str, actions: list[dict[str, Any]]) -> None:
        await self.elb.call("ModifyListener", f"listener {listener}", ListenerArn=listener, DefaultActions=actions)

    async def _put_back(self, listener: str, actions: list[dict[str, Any]], exc: RouterError) -> RouterError:
        try:
            await self._modify(listener, [plan.as_sent(a) for a in actions])
        except RouterError as back:
            return RouterError(f"{exc}; putting the production listener back failed too: {back}", hint=exc.hint)
        return RouterError(f"{exc} (the production listener was put back as it was)", hint=exc.hint)


def _scheme(listener: Mapping[str, Any]) -> str:
    return "https" if listener.get("Protocol") == "HTTPS" else "http"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
