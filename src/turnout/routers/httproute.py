"""Pure parts of the Gateway API router: an HTTPRoute's rules <-> a blue/green split.

A rule whose backendRefs name a color's Service is turnout's: route() rewrites its backendRefs to
both colors' Services with the split as weights (Gateway API weights are proportions, not percent:
`weight / sum of weights`; weight 0 sends that backend nothing), keeping everything else of the
rule and of each ref (port, filters). A rule that mixes a color's Service with another backend is
refused by name; a rule with neither color is not turnout's and is left alone.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from turnout.errors import RouterError
from turnout.model import Color, Weights

Rule = dict[str, Any]


def _service(ref: Mapping[str, Any], namespace: str) -> str | None:
    """The Service a backendRef names in `namespace`, or None for another kind or namespace."""
    if ref.get("group", "") != "" or ref.get("kind", "Service") != "Service" or \
            ref.get("namespace", namespace) != namespace:
        return None
    return str(ref.get("name"))


def color_rules(rules: Sequence[Rule], services: Mapping[Color, str], namespace: str, where: str) -> list[int]:
    """The indexes of the rules that route to a color's Service; refuses a rule that mixes in another backend."""
    color_of = {name: color for color, name in services.items()}
    found = []
    for i, rule in enumerate(rules):
        refs = rule.get("backendRefs") or []
        named = [_service(r, namespace) for r in refs]
        if not any(n in color_of for n in named):
            continue
        others = [r.get("name") for r, n in zip(refs, named, strict=True) if n not in color_of]
        if others:
            raise RouterError(f"{where} rule {_name(rule, i)} routes to a color's Service and to {others[0]}: turnout "
                              "cannot switch a split it does not own",
                              hint="route that rule to the colors' Services only, or to neither")
        found.append(i)
    if not found:
        raise RouterError(f"{where} has no rule whose backendRefs name {services[Color.BLUE]} or "
                          f"{services[Color.GREEN]}", hint="point a rule at one color's Service (docs/kubernetes.md)")
    return found


def split(rule: Rule, services: Mapping[Color, str], namespace: str, where: str) -> Weights:
    """The percent split one of turnout's rules serves (an unset weight is 1, as the API defaults it)."""
    weight = dict.fromkeys(Color, 0)
    color_of = {name: color for color, name in services.items()}
    for ref in rule.get("backendRefs") or []:
        color = color_of.get(_service(ref, namespace) or "")
        if color is not None:
            weight[color] += int(ref.get("weight", 1))
    total = weight[Color.BLUE] + weight[Color.GREEN]
    if total == 0:
        raise RouterError(f"{where} has a rule that gives both colors' Services weight 0: it serves nothing")
    green = round(100 * weight[Color.GREEN] / total)
    return Weights(100 - green, green)


def switched(rule: Rule, services: Mapping[Color, str], namespace: str, weights: Weights) -> Rule:
    """The rule with its backendRefs set to both colors' Services and `weights`; the rest kept."""
    by_color = {}
    for ref in rule.get("backendRefs") or []:
        name = _service(ref, namespace)
        for color, service in services.items():
            if name == service and color not in by_color:
                by_color[color] = ref
    template = next(iter(by_color.values()))
    refs = []
    for color in Color:
        ref = copy.deepcopy(by_color.get(color) or {k: v for k, v in template.items() if k not in ("filters",)})
        ref["name"], ref["weight"] = services[color], weights.of(color)
        refs.append(ref)
    return {**rule, "backendRefs": refs}


def not_accepted(route: Mapping[str, Any]) -> str | None:
    """Why the HTTPRoute's current generation is not yet in force, or None: every parent (Gateway) must
    report Accepted and ResolvedRefs True for it. Until then the Gateway serves an older one."""
    generation = (route.get("metadata") or {}).get("generation", 0)
    parents = (route.get("status") or {}).get("parents") or []
    if not parents:
        return "no Gateway has accepted it yet (status.parents is empty)"
    for parent in parents:
        name = (parent.get("parentRef") or {}).get("name", "?")
        conditions = {c.get("type"): c for c in parent.get("conditions") or []}
        for kind in ("Accepted", "ResolvedRefs"):
            c = conditions.get(kind) or {}
            if c.get("observedGeneration", 0) < generation:
                return f"Gateway {name} has not yet seen generation {generation}"
            if c.get("status") != "True":
                return f"Gateway {name} says {kind}={c.get('status')} ({c.get('reason')}: {c.get('message')})"
    return None


def _name(rule: Rule, index: int) -> str:
    return repr(rule["name"]) if rule.get("name") else f"#{index + 1}"
