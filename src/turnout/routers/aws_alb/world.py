"""The aws_alb driver's options and the ALB it drives: one load balancer, two listeners, two target groups.

Options are checked without AWS (ConfigError naming `router.options.<key>`); `resolve()` then finds
the resources by ARN, name or port and checks they fit together (RouterError naming the ARN).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from turnout.config import Duration
from turnout.errors import ConfigError, RouterError
from turnout.model import Color
from turnout.routers.aws_alb.elb import ELB
from turnout.routers.aws_alb.plan import forward_action

_ARN = r"^arn:aws(?:-[a-z]+)*:elasticloadbalancing:(?P<region>[a-z0-9-]+):\d{12}:"
LB_ARN = re.compile(_ARN + r"loadbalancer/app/(?P<lb>[^/]+/[0-9a-f]+)$")
LISTENER_ARN = re.compile(_ARN + r"listener/app/(?P<lb>[^/]+/[0-9a-f]+)/[0-9a-f]+$")
TG_ARN = re.compile(_ARN + r"targetgroup/[^/]+/[0-9a-f]+$")
NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")  # LB and TG names: 1-32, no edge hyphen
_SHAPES = {
    "load_balancer_arn": (LB_ARN, "an ALB ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID)"),
    "load_balancer_name": (NAME, "a load balancer name (1-32 letters, digits and hyphens)"),
    "production_listener_arn": (LISTENER_ARN, "an ALB listener ARN (…:listener/app/LB-NAME/LB-ID/ID)"),
    "test_listener_arn": (LISTENER_ARN, "an ALB listener ARN (…:listener/app/LB-NAME/LB-ID/ID)"),
}


class ALBOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$", description="the AWS Region of the load balancer")
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+", description="moto, or a VPC endpoint")
    load_balancer_arn: str | None = Field(default=None, description="the ALB, by ARN (or load_balancer_name)")
    load_balancer_name: str | None = Field(default=None, description="the ALB, by name (or load_balancer_arn)")
    production_listener_arn: str | None = Field(default=None, description="or production_listener_port")
    production_listener_port: int | None = Field(default=None, ge=1, le=65535,
                                                 description="the production listener, by its port")
    test_listener_arn: str | None = Field(default=None, description="or test_listener_port")
    test_listener_port: int | None = Field(default=None, ge=1, le=65535, description="the test listener, by its port")
    target_groups: dict[Color, str] = Field(description="color -> target group ARN or name")
    register_targets: bool = Field(default=True, description="False: something else (an ASG, ECS, a "
                                                             "TargetGroupBinding) manages the targets")
    deregistration_delay: Duration | None = Field(default=None, le=3600,
                                                  description="set on both target groups at each prepare()")
    listener_rules: Literal["manage", "refuse"] = Field(
        default="manage", description="production listener rules that forward to a color's group: switched with "
                                      "the default action (manage), or refused with the rule named")
    healthy_targets: int | None = Field(default=None, ge=1, description="how many of a color's registered targets "
                                                                         "must be healthy before it gets more "
                                                                         "traffic; default: all of them")
    health_timeout: Duration = Field(default=300.0, gt=0, description="how long route() waits for them")
    timeout: Duration = Field(default=10.0, gt=0, description="per API call (connect and read)")
    max_attempts: int = Field(default=3, ge=1, le=10,
                              description="attempts per API call, the first included (boto3 \"standard\" retries, "
                                          "incl. throttling); 1: no retry")

    @field_validator("load_balancer_arn", "load_balancer_name", "production_listener_arn", "test_listener_arn")
    @classmethod
    def _shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        pattern, what = _SHAPES[str(info.field_name)]
        if value is not None and not pattern.match(value):
            raise ValueError(f"expected {what}, got {value!r}")
        return value


def check(opts: ALBOptions) -> None:
    """What pydantic cannot say per field: one of each pair, both colors, ARNs in `region`."""
    key = ("router", "options")
    for a, b in (("load_balancer_arn", "load_balancer_name"), ("production_listener_arn", "production_listener_port"),
                 ("test_listener_arn", "test_listener_port")):
        if (getattr(opts, a) is None) == (getattr(opts, b) is None):
            raise ConfigError(f"give either {a} or {b}", key=(*key, a))
    missing = [c.value for c in Color if c not in opts.target_groups]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} missing (blue = ARN or name, green = …)",
                          key=(*key, "target_groups"))
    for color, ref in opts.target_groups.items():
        if not (TG_ARN.match(ref) or (NAME.match(ref) and not ref.startswith("arn"))):
            raise ConfigError(f"expected a target group ARN or name, got {ref!r}",
                              key=(*key, "target_groups", color.value))
    if opts.target_groups[Color.BLUE] == opts.target_groups[Color.GREEN]:
        raise ConfigError("blue and green are the same target group", key=(*key, "target_groups"))
    arns = {"load_balancer_arn": opts.load_balancer_arn, "production_listener_arn": opts.production_listener_arn,
            "test_listener_arn": opts.test_listener_arn,
            **{f"target_groups.{c.value}": ref for c, ref in opts.target_groups.items() if ref.startswith("arn:")}}
    for name, arn in arns.items():
        m = arn and re.match(_ARN, arn)
        if m and m["region"] != opts.region:
            raise ConfigError(f"the ARN is in {m['region']}, router.options.region is {opts.region}",
                              key=(*key, *name.split(".")))
    lb = opts.load_balancer_arn and LB_ARN.match(opts.load_balancer_arn)
    for name in ("production_listener_arn", "test_listener_arn"):
        listener = getattr(opts, name) and LISTENER_ARN.match(getattr(opts, name))
        if lb and listener and listener["lb"] != lb["lb"]:
            raise ConfigError(f"a listener of load balancer {listener['lb']}, not of {lb['lb']}", key=(*key, name))
    same = (opts.production_listener_arn or opts.production_listener_port) == (
        opts.test_listener_arn or opts.test_listener_port)
    if same:
        raise ConfigError("the test listener must not be the production listener", key=(*key, "test_listener_port"))


@dataclass(frozen=True)
class World:
    load_balancer: str
    production: str  # listener ARNs
    test: str
    groups: dict[Color, str]  # target group ARNs
    target_types: dict[Color, str]  # ip | instance | lambda | alb
    ports: dict[Color, int]  # a target group's port: a target registered without one uses it


async def resolve(elb: ELB, opts: ALBOptions) -> World:
    """Find the load balancer, its two listeners and the two target groups; refuse what does not fit."""
    ref = opts.load_balancer_arn or opts.load_balancer_name
    found = (await elb.call("DescribeLoadBalancers", f"load balancer {ref}",
                            **({"LoadBalancerArns": [ref]} if opts.load_balancer_arn else {"Names": [ref]})))
    lb = found["LoadBalancers"][0]
    lb_arn = str(lb["LoadBalancerArn"])
    if lb.get("Type") != "application":
        raise RouterError(f"AWS ALB: load balancer {lb_arn} is a {lb.get('Type')} load balancer, not application")
    listeners = (await elb.call("DescribeListeners", f"load balancer {lb_arn}", LoadBalancerArn=lb_arn,
                                PageSize=400))["Listeners"]
    chosen = {}
    for role in ("production", "test"):
        arn, port = getattr(opts, f"{role}_listener_arn"), getattr(opts, f"{role}_listener_port")
        match = [x for x in listeners if (x["ListenerArn"] == arn if arn else x.get("Port") == port)]
        if not match and arn:
            other = (await elb.call("DescribeListeners", f"listener {arn}", ListenerArns=[arn]))["Listeners"][0]
            raise RouterError(f"AWS ALB: {role} listener {arn} belongs to load balancer "
                              f"{other['LoadBalancerArn']}, not {lb_arn}", hint=f"router.options.{role}_listener_arn")
        if not match:
            ports = ", ".join(str(x.get("Port")) for x in listeners) or "none"
            raise RouterError(f"AWS ALB: load balancer {lb_arn} has no listener on port {port} (it has: {ports})",
                              hint=f"router.options.{role}_listener_port")
        forward_action(match[0]["DefaultActions"], match[0]["ListenerArn"])
        chosen[role] = str(match[0]["ListenerArn"])
    if chosen["production"] == chosen["test"]:
        raise RouterError(f"AWS ALB: production and test listener are the same listener {chosen['production']}")
    groups = {color: await _group(elb, opts, color, lb) for color in Color}
    if groups[Color.BLUE]["TargetGroupArn"] == groups[Color.GREEN]["TargetGroupArn"]:
        raise RouterError("AWS ALB: router.options.target_groups.blue and .green name the same target group "
                          f"{groups[Color.BLUE]['TargetGroupArn']}")
    return World(load_balancer=lb_arn, production=chosen["production"], test=chosen["test"],
                 groups={c: str(g["TargetGroupArn"]) for c, g in groups.items()},
                 target_types={c: str(g.get("TargetType", "instance")) for c, g in groups.items()},
                 ports={c: int(g.get("Port") or 0) for c, g in groups.items()})


async def _group(elb: ELB, opts: ALBOptions, color: Color, lb: dict[str, Any]) -> dict[str, Any]:
    ref = opts.target_groups[color]
    by = {"TargetGroupArns": [ref]} if ref.startswith("arn:") else {"Names": [ref]}
    group: dict[str, Any] = (await elb.call("DescribeTargetGroups", f"target group {ref} ({color})",
                                            **by))["TargetGroups"][0]
    arn, key = group["TargetGroupArn"], f"router.options.target_groups.{color}"
    elsewhere = sorted(set(group.get("LoadBalancerArns") or []) - {lb["LoadBalancerArn"]})
    if elsewhere:  # an ALB target group serves one load balancer
        raise RouterError(f"AWS ALB: target group {arn} ({color}) belongs to load balancer {elsewhere[0]}, "
                          f"not {lb['LoadBalancerArn']}", hint=f"check {key}")
    if group.get("VpcId") and lb.get("VpcId") and group["VpcId"] != lb["VpcId"]:
        raise RouterError(f"AWS ALB: target group {arn} ({color}) is in {group['VpcId']}, the load balancer in "
                          f"{lb['VpcId']}", hint=f"check {key}")
    if group.get("Protocol") not in (None, "HTTP", "HTTPS"):
        raise RouterError(f"AWS ALB: target group {arn} ({color}) uses {group['Protocol']}: not an ALB target group")
    if opts.register_targets and group.get("TargetType") not in ("ip", "instance"):
        raise RouterError(f"AWS ALB: target group {arn} ({color}) has target type {group.get('TargetType')}: "
                          "turnout registers only ip or instance targets",
                          hint="set router.options.register_targets = false and manage its targets yourself")
    return group
