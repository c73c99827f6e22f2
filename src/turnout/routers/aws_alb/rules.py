"""Listener rules: the host- and path-based forwards a listener evaluates before its default action.

A rule that forwards to a color's target group serves that color whatever the default action says,
so turnout reads every rule (DescribeRules, paged) and, with `listener_rules = "manage"`, switches
each such rule of the production listener with the default action; with "refuse", or on the test
listener, it refuses and names the rule. A rule that forwards only to other target groups is not
turnout's and is left alone; one that mixes a color's group with another group is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from turnout.errors import RouterError
from turnout.model import Color
from turnout.routers.aws_alb import plan
from turnout.routers.aws_alb.elb import ELB

PAGE = 100  # rules per DescribeRules page (AWS allows up to 400; a listener has up to 100 rules by default)


@dataclass(frozen=True)
class Rule:
    arn: str
    priority: str
    actions: list[dict[str, Any]]


async def describe(elb: ELB, listener: str) -> list[Rule]:
    """Every non-default rule of a listener, following NextMarker to the last page."""
    out: list[Rule] = []
    marker: str | None = None
    while True:
        page = await elb.call("DescribeRules", f"rules of listener {listener}", ListenerArn=listener, PageSize=PAGE,
                              **({"Marker": marker} if marker else {}))
        out += [Rule(str(r["RuleArn"]), str(r.get("Priority", "")), list(r.get("Actions") or []))
                for r in page.get("Rules", []) if not r.get("IsDefault")]
        marker = page.get("NextMarker")
        if not marker:
            return out


def of_colors(rules: list[Rule], groups: Mapping[Color, str], listener: str, *, manage: bool) -> list[Rule]:
    """The rules that forward to a color's group: turnout's to switch (`manage`), else refused."""
    colors = set(groups.values())
    found = []
    for rule in rules:
        forwards = [a for a in rule.actions if a.get("Type") == "forward"]
        targets = {arn for a in forwards for arn, weight in plan.forwarded(a).items() if weight > 0}
        if not targets & colors:
            continue
        where = f"rule {rule.arn} (priority {rule.priority}) of listener {listener}"
        if targets - colors:
            other = sorted(targets - colors)[0]
            raise RouterError(f"AWS ALB: {where} forwards to a color's target group and to {other}: turnout "
                              "cannot switch a split it does not own",
                              hint="forward that rule to one color's group only, or to neither")
        if not manage:
            raise RouterError(f"AWS ALB: {where} forwards to {', '.join(sorted(targets))}: it would keep serving "
                              "that color whatever turnout switches",
                              hint="remove the rule, point it at another target group, or set "
                                   "router.options.listener_rules = \"manage\" (production listener only)")
        found.append(rule)
    return found
