"""Every phase transition is allowed or refused exactly as the table says."""

from __future__ import annotations

import itertools

import pytest

from turnout.engine import phases
from turnout.errors import IllegalTransition
from turnout.model import Phase as P

ALLOWED = {
    (P.INITIAL, P.INITIAL), (P.INITIAL, P.DEPLOY), (P.INITIAL, P.SWITCH),
    (P.DEPLOY, P.VALIDATE), (P.DEPLOY, P.ABORTED),
    (P.VALIDATE, P.SWITCH), (P.VALIDATE, P.ABORTED), (P.VALIDATE, P.VALIDATE), (P.VALIDATE, P.DEPLOY),
    (P.SWITCH, P.STABILIZE), (P.SWITCH, P.ROLLED_BACK), (P.SWITCH, P.ABORTED), (P.SWITCH, P.SWITCH),
    (P.STABILIZE, P.DEPLOY), (P.STABILIZE, P.SWITCH), (P.STABILIZE, P.ROLLED_BACK), (P.STABILIZE, P.INITIAL),
    (P.ABORTED, P.DEPLOY), (P.ABORTED, P.SWITCH), (P.ABORTED, P.INITIAL),
    (P.ROLLED_BACK, P.DEPLOY), (P.ROLLED_BACK, P.SWITCH), (P.ROLLED_BACK, P.INITIAL),
}


@pytest.mark.parametrize(("src", "dst"), list(itertools.product(P, P)))
def test_transition(src: P, dst: P) -> None:
    if (src, dst) in ALLOWED:
        phases.check(src, dst)
        assert phases.allowed(src, dst)
    else:
        assert not phases.allowed(src, dst)
        with pytest.raises(IllegalTransition, match=f"cannot go from phase {src.value} to {dst.value}"):
            phases.check(src, dst)


def test_every_phase_has_a_row() -> None:
    assert set(phases.TRANSITIONS) == set(P)


def test_deploy_cannot_skip_validation() -> None:
    assert not phases.allowed(P.DEPLOY, P.SWITCH)
