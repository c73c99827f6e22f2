"""Pure parts of the aws_alb driver: listener actions <-> weights, stickiness, and target diffs.

A listener's default actions (and a rule's actions) may hold more than the forward action (an
authenticate-oidc or authenticate-cognito action before it): turnout replaces only the forward action
and keeps the rest, so a switch never drops a listener's authentication.

A full switch (100/0) forwards to the one target group: a forward to several groups is refused by
AWS when a group has stickiness on and group-level stickiness is off ("you must enable stickiness at
the target group level"; Elastic Load Balancing user guide, sticky sessions), and group stickiness
would hold clients on the old color for up to 7 days. A canary split names both groups; when a group
has lb_cookie stickiness it carries group stickiness too, and app_cookie stickiness (which AWS does
not support behind weighted target groups) refuses the split.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from turnout.errors import RouterError
from turnout.model import Color, Endpoint, Weights

Action = dict[str, Any]
Target = tuple[str, int]  # (Id, Port): an IP address or an instance id, and the port
INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


def forward_action(actions: Sequence[Action], listener: str) -> tuple[int, Action]:
    """Position and body of the listener's one forward default action."""
    found = [(i, a) for i, a in enumerate(actions) if a.get("Type") == "forward"]
    if len(found) != 1:
        kinds = ", ".join(str(a.get("Type")) for a in actions) or "none"
        raise RouterError(f"AWS ALB: listener {listener} has no single forward default action (it has: {kinds})",
                          hint="point its default action at the blue or green target group first")
    return found[0]


def forwarded(action: Action) -> dict[str, int]:
    """Weight per target group ARN: from ForwardConfig, else the single TargetGroupArn."""
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    if groups:
        return {str(g["TargetGroupArn"]): int(g.get("Weight", 1)) for g in groups}
    arn = action.get("TargetGroupArn")
    return {str(arn): 1} if arn else {}


def with_forward(actions: Sequence[Action], listener: str, forward: Action) -> list[Action]:
    """The listener's default actions with the forward action replaced (same Order), the others kept."""
    i, old = forward_action(actions, listener)
    new = {**forward, **({"Order": old["Order"]} if "Order" in old else {})}
    return [*map(as_sent, actions[:i]), new, *map(as_sent, actions[i + 1:])]


def as_sent(action: Action) -> Action:
    """An action sent back as it was described. DescribeListeners leaves out an OIDC client secret;
    ModifyListener then needs UseExistingClientSecret, or it would ask for the secret."""
    oidc = action.get("AuthenticateOidcConfig")
    if oidc is not None and "ClientSecret" not in oidc:
        return {**action, "AuthenticateOidcConfig": {**oidc, "UseExistingClientSecret": True}}
    return action


def production_forward(groups: Mapping[Color, str], weights: Weights, current: Action,
                       attributes: Mapping[Color, Mapping[str, str]]) -> Action:
    """The production forward action for `weights`: one target group for a full switch; both, with their
    weights in one action (which the ALB applies as one change), for a split. `attributes` are the
    groups' target group attributes, read only for a split (module docstring)."""
    if not (weights.blue and weights.green):
        return {"Type": "forward", "TargetGroupArn": groups[weights.dominant]}
    config: dict[str, Any] = {"TargetGroups": [{"TargetGroupArn": groups[c], "Weight": weights.of(c)} for c in Color]}
    own = (current.get("ForwardConfig") or {}).get("TargetGroupStickinessConfig") or {}
    sticky = group_stickiness(groups, attributes, own if own.get("Enabled") else None)
    if sticky:
        config["TargetGroupStickinessConfig"] = sticky
    return {"Type": "forward", "ForwardConfig": config}


def group_stickiness(groups: Mapping[Color, str], attributes: Mapping[Color, Mapping[str, str]],
                     own: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The group stickiness a split needs: the listener's own if it has one; else, when a color's group
    has lb_cookie stickiness, as long as the longest such cookie (AWS requires it); else none."""
    sticky = {c: a for c, a in attributes.items() if a.get("stickiness.enabled") == "true"}
    for color, attrs in sticky.items():
        if attrs.get("stickiness.type") == "app_cookie":
            raise RouterError(f"AWS ALB: target group {groups[color]} ({color}) has application-based stickiness "
                              "(app_cookie), which AWS does not support behind weighted target groups: a canary "
                              "split cannot be sent", hint="use duration-based stickiness (lb_cookie) or none on "
                              "both groups, or deploy without canary steps (a full switch sends one group)")
    if own or not sticky:
        return own
    seconds = max(int(a.get("stickiness.lb_cookie.duration_seconds") or 86400) for a in sticky.values())
    return {"Enabled": True, "DurationSeconds": min(max(seconds, 1), 604800)}


def test_forward(group: str) -> Action:
    return {"Type": "forward", "TargetGroupArn": group}


def split(forward: Mapping[str, int], groups: Mapping[Color, str], listener: str) -> Weights:
    """The percent split a forward action serves, in colors; a target group that is neither color is an error."""
    color_of = {arn: color for color, arn in groups.items()}
    foreign = sorted(arn for arn, weight in forward.items() if weight > 0 and arn not in color_of)
    if foreign:
        raise RouterError(f"AWS ALB: listener {listener} forwards to {foreign[0]}, which is neither "
                          "router.options.target_groups.blue nor .green",
                          hint="someone else changed the listener, or target_groups names the wrong groups")
    blue, green = (sum(w for arn, w in forward.items() if color_of.get(arn) is c) for c in Color)
    if blue + green == 0:
        raise RouterError(f"AWS ALB: listener {listener} forwards to no target group with a weight above 0")
    share = round(100 * green / (blue + green))
    return Weights(100 - share, share)


def only_color(forward: Mapping[str, int], groups: Mapping[Color, str], listener: str) -> Color:
    """The one color a listener serves (the test listener never splits)."""
    weights = split(forward, groups, listener)
    if weights.blue and weights.green:
        raise RouterError(f"AWS ALB: test listener {listener} splits {weights.as_dict()}; turnout points it at "
                          "one color", hint="the next route() points it at the idle color again")
    return weights.dominant


def registered(descriptions: Iterable[Mapping[str, Any]], default_port: int) -> dict[Target, str]:
    """Target -> health state, from DescribeTargetHealth."""
    out = {}
    for d in descriptions:
        target = d["Target"]
        out[(str(target["Id"]), int(target.get("Port", default_port)))] = str(d.get("TargetHealth", {}).get("State"))
    return out


def serving(current: Mapping[Target, str]) -> tuple[Endpoint, ...]:
    """Targets that get new requests: only `healthy` ones (`initial`, `unhealthy`, `unused` and
    `unavailable` targets serve nothing; `draining` ones are on their way out)."""
    return tuple(Endpoint(i, p) for i, p in sorted(t for t, state in current.items() if state == "healthy"))


def given(current: Mapping[Target, str]) -> tuple[Endpoint, ...]:
    """Targets turnout registered and has not deregistered: what prepare() keeps in step with the runtime."""
    return tuple(Endpoint(i, p) for i, p in sorted(t for t, state in current.items() if state != "draining"))


def changes(current: Mapping[Target, str], wanted: Sequence[Target]) -> tuple[list[Target], list[Target]]:
    """(register, deregister): new targets are registered before old ones leave, never zero in between."""
    live = {t for t, state in current.items() if state != "draining"}
    want = list(dict.fromkeys(wanted))
    return [t for t in want if t not in live], [t for t in current if t in live and t not in want]


def target_of(endpoint: Endpoint, target_type: str, group: str) -> Target:
    """What an endpoint is as a target of `group`: an IP target needs an address, an instance target
    an instance id (`i-0abc…:8080`)."""
    if target_type == "instance":
        if not INSTANCE_ID.match(endpoint.host):
            raise RouterError(f"AWS ALB: target group {group} has target type instance; endpoint {endpoint.address} "
                              "is not an instance id", hint="give endpoints as i-0123456789abcdef0:PORT, use an "
                              "ip target group, or set router.options.register_targets = false")
        return endpoint.host, endpoint.port
    try:
        return str(ipaddress.ip_address(endpoint.host)), endpoint.port
    except ValueError:
        raise RouterError(f"AWS ALB: target group {group} has target type ip; {endpoint.address} is not an IP "
                          "address") from None
