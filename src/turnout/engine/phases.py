"""The legal phase transitions of a deployment, as one table (pure)."""

from __future__ import annotations

from turnout.errors import IllegalTransition
from turnout.model import Phase

P = Phase

# from-phase -> phases it may move to. Terminal-looking phases (INITIAL, STABILIZE, ABORTED,
# ROLLED_BACK) all allow a new DEPLOY; a manual switch or rollback is possible whenever the
# other color is warm, which the orchestrator checks, so SWITCH is reachable from all of them.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    P.INITIAL: frozenset({P.INITIAL, P.DEPLOY, P.SWITCH}),  # INITIAL->INITIAL: first release
    P.DEPLOY: frozenset({P.VALIDATE, P.ABORTED}),
    P.VALIDATE: frozenset({P.SWITCH, P.ABORTED, P.VALIDATE, P.DEPLOY}),  # DEPLOY: replace a --no-switch release
    P.SWITCH: frozenset({P.STABILIZE, P.ROLLED_BACK, P.ABORTED, P.SWITCH}),
    P.STABILIZE: frozenset({P.DEPLOY, P.SWITCH, P.ROLLED_BACK, P.INITIAL}),
    P.ABORTED: frozenset({P.DEPLOY, P.SWITCH, P.INITIAL}),
    P.ROLLED_BACK: frozenset({P.DEPLOY, P.SWITCH, P.INITIAL}),
}

# Phases in which a deploy is in progress: a crash here needs `resume`.
IN_PROGRESS = frozenset({P.DEPLOY, P.VALIDATE, P.SWITCH})


def allowed(src: Phase, dst: Phase) -> bool:
    return dst in TRANSITIONS[src]


def check(src: Phase, dst: Phase) -> None:
    if not allowed(src, dst):
        legal = ", ".join(sorted(p.value for p in TRANSITIONS[src]))
        raise IllegalTransition(f"cannot go from phase {src.value} to {dst.value} (allowed: {legal})")
