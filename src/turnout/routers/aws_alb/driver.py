"""AWS Application Load Balancer driver: the seed's AWS setup, switched with ModifyListener.

One ALB, two target groups (blue, green), a production listener forwarding to the active color's
group and a test listener forwarding to the idle one's. route() first waits until the target group
of every color that is to get more traffic has enough `healthy` targets (a registered target serves
nothing before it passes the ALB health check), then rewrites the forward action of every production
listener rule that forwards to a color's group (rules.py), then the production listener's default
action (one group for a full switch, both with their weights for a split: plan.py), then points the
test listener at the color with less weight. It always writes: ELBv2 does not document
read-after-write consistency, and a stale read must never turn a rollback into a no-op. observe()
reads the listeners, rules and target health back from the API, never from memory; ALBs apply a
change eventually, and the orchestrator polls observe() until it reports the asked split.

prepare() finds and checks the resources and the rules, and (register_targets, the default)
registers each given color's endpoints as targets of its group before it deregisters the ones that
left. The agent's reconcile loop calls it again when the runtime's instances and the registered
targets differ (RouteState.targets), so a replaced instance does not leave a dead target behind.

The ALB is someone else's: turnout creates and deletes no AWS resource, and release() does nothing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import ipaddress
import time
from collections.abc import Mapping, Sequence
from typing import Any, Self

from turnout.config import DriverEnv, RouterConfig
from turnout.errors import ConfigError, RouterError
from turnout.model import Color, Endpoint, RouteState, Weights
from turnout.routers.aws_alb import plan, rules
from turnout.routers.aws_alb.elb import ELB
from turnout.routers.aws_alb.world import ALBOptions, World, check, resolve
from turnout.routers.endpoints import resolve as resolve_host

HEALTH_POLL = (0.5, 5.0)  # seconds between target health reads while route() waits: first, and the cap
Undo = tuple[str, str, list[plan.Action]]  # (ModifyRule | ModifyListener, ARN, the actions it had)


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
        await self._color_rules(world, test_too=True)  # refuses what turnout could not switch, before any change
        if self.options.deregistration_delay is not None:
            delay = str(round(self.options.deregistration_delay))
            for color in Color:
                await self.elb.call("ModifyTargetGroupAttributes", f"target group {world.groups[color]} ({color})",
                                    TargetGroupArn=world.groups[color],
                                    Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": delay}])
        if not self.options.register_targets:
            return  # something else (an Auto Scaling group, ECS, a TargetGroupBinding) keeps the targets
        # Every endpoint is checked before the first change: a bad green one leaves blue untouched too.
        wanted = {Color(c): await self._targets(world, Color(c), eps) for c, eps in backends.items()}
        for color, targets in wanted.items():
            await self._sync(world, color, targets)

    async def route(self, weights: Weights) -> None:
        world = await self._ensure()
        listeners, color_rules = await self._read_for_writing(world)
        if rising := self._rising(world, listeners[world.production], weights):
            for color in rising:
                await self._wait_healthy(world, color)
            listeners, color_rules = await self._read_for_writing(world)  # the wait may have taken minutes
        prod, test = listeners[world.production], listeners[world.test]
        attributes = await self._attributes(world) if weights.blue and weights.green else {}
        idle = weights.dominant.other
        undo: list[Undo] = []
        try:
            for rule in color_rules:  # rules first, the default action last, then the test listener
                _, forward = plan.forward_action(rule.actions, rule.arn)
                new = plan.production_forward(world.groups, weights, forward, attributes)
                await self._write("ModifyRule", rule.arn, plan.with_forward(rule.actions, rule.arn, new))
                undo.append(("ModifyRule", rule.arn, rule.actions))
            _, forward = plan.forward_action(prod["DefaultActions"], world.production)
            new = plan.production_forward(world.groups, weights, forward, attributes)
            await self._write("ModifyListener", world.production,
                              plan.with_forward(prod["DefaultActions"], world.production, new))
            undo.append(("ModifyListener", world.production, prod["DefaultActions"]))
            await self._write("ModifyListener", world.test, plan.with_forward(
                test["DefaultActions"], world.test, plan.test_forward(world.groups[idle])))
        except RouterError as exc:
            if not undo:
                raise
            # All or nothing: put production back as it was.
            raise await self._put_back(undo, exc) from None

    async def observe(self) -> RouteState:
        world = await self._ensure()
        listeners, color_rules, *health = await asyncio.gather(
            self._listeners(world), self._color_rules(world, test_too=False),
            *(self._health(world, c) for c in Color))
        prod, test = listeners[world.production], listeners[world.test]
        weights = plan.split(plan.forwarded(plan.forward_action(prod["DefaultActions"], world.production)[1]),
                             world.groups, world.production)
        for rule in color_rules:  # a rule that has not followed the default action is what some users get
            ruled = plan.split(plan.forwarded(plan.forward_action(rule.actions, rule.arn)[1]), world.groups, rule.arn)
            if ruled != weights:
                weights = ruled
                break
        test_color = plan.only_color(plan.forwarded(plan.forward_action(test["DefaultActions"], world.test)[1]),
                                     world.groups, world.test)
        return RouteState(weights=weights, test_color=test_color,
                          backends={c: plan.serving(h) for c, h in zip(Color, health, strict=True)},
                          targets={c: plan.given(h) for c, h in zip(Color, health, strict=True)},
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

    async def _read_for_writing(self, world: World) -> tuple[dict[str, dict[str, Any]], list[rules.Rule]]:
        """The listeners and the production rules to switch. moto (and a racing delete in AWS) accepts a
        forward to a target group that does not exist: both groups are described too, so a missing one
        fails here with nothing changed."""
        listeners, _, color_rules = await asyncio.gather(
            self._listeners(world),
            self.elb.call("DescribeTargetGroups", f"target groups {', '.join(world.groups.values())}",
                          TargetGroupArns=[world.groups[c] for c in Color]),
            self._color_rules(world, test_too=True))
        return listeners, color_rules

    async def _color_rules(self, world: World, *, test_too: bool) -> list[rules.Rule]:
        """The production listener's rules to switch; rules forwarding to a color elsewhere are refused."""
        manage = self.options.listener_rules == "manage"
        if test_too:
            rules.of_colors(await rules.describe(self.elb, world.test), world.groups, world.test, manage=False)
        return rules.of_colors(await rules.describe(self.elb, world.production), world.groups, world.production,
                               manage=manage)

    def _rising(self, world: World, prod: Mapping[str, Any], weights: Weights) -> list[Color]:
        """The colors `weights` gives more traffic than the production listener does now."""
        try:
            now: Weights | None = plan.split(plan.forwarded(plan.forward_action(
                prod["DefaultActions"], world.production)[1]), world.groups, world.production)
        except RouterError:  # pointed elsewhere by someone: every color that gets traffic must be healthy
            now = None
        return [c for c in Color if weights.of(c) and (now is None or weights.of(c) > now.of(c))]

    async def _wait_healthy(self, world: World, color: Color) -> None:
        """Until `color`'s group has enough healthy targets (all registered ones, or healthy_targets): a
        target serves nothing before it passes the ALB health check. A failed read is "not yet"."""
        group, need, timeout = world.groups[color], self.options.healthy_targets, self.options.health_timeout
        deadline, pause = time.monotonic() + timeout, HEALTH_POLL[0]
        while True:
            try:
                live = {t: s for t, s in (await self._health(world, color)).items() if s != "draining"}
            except RouterError as exc:
                seen = f"no readable target health ({exc})"
            else:
                healthy = sum(state == "healthy" for state in live.values())
                if healthy and healthy >= (need or len(live)):
                    return
                states = ", ".join(f"{i}:{p} {s}" for (i, p), s in sorted(live.items())[:6]) or "none registered"
                seen = f"{healthy} healthy of {len(live)} registered targets ({states})"
            if time.monotonic() >= deadline:
                raise RouterError(f"AWS ALB: refusing to send more traffic to {color}: target group {group} has "
                                  f"{seen} after {timeout:g}s" + (f", {need} needed" if need else ""),
                                  hint="check the group's health check (path, port, security groups) and the "
                                       "instances; router.options.health_timeout / healthy_targets")
            await asyncio.sleep(pause)
            pause = min(pause * 2, HEALTH_POLL[1])

    async def _attributes(self, world: World) -> dict[Color, dict[str, str]]:
        """The target group attributes a split depends on (stickiness), per color."""
        found = await asyncio.gather(*(self.elb.call("DescribeTargetGroupAttributes",
                                                     f"target group {world.groups[c]} ({c})",
                                                     TargetGroupArn=world.groups[c]) for c in Color))
        return {c: {str(a["Key"]): str(a["Value"]) for a in f.get("Attributes", [])}
                for c, f in zip(Color, found, strict=True)}

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

    async def _write(self, op: str, arn: str, actions: list[dict[str, Any]]) -> None:
        if op == "ModifyRule":
            await self.elb.call(op, f"rule {arn}", RuleArn=arn, Actions=actions)
        else:
            await self.elb.call(op, f"listener {arn}", ListenerArn=arn, DefaultActions=actions)

    async def _put_back(self, undo: list[Undo], exc: RouterError) -> RouterError:
        failed = []
        for op, arn, actions in reversed(undo):
            try:
                await self._write(op, arn, [plan.as_sent(a) for a in actions])
            except RouterError as back:
                failed.append(str(back))
        if failed:
            return RouterError(f"{exc}; putting the production listener back failed too: {'; '.join(failed)}",
                               hint=exc.hint)
        return RouterError(f"{exc} (the production listener was put back as it was)", hint=exc.hint)


def _scheme(listener: Mapping[str, Any]) -> str:
    return "https" if listener.get("Protocol") == "HTTPS" else "http"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
