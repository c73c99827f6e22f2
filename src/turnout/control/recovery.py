"""`turnout recover --from-router`: rebuild a lost or damaged state store from what really runs.

The router says which color serves and at what split; the runtime says which release runs where and
whether it answers. A damaged store file is moved aside first (never deleted), and the rebuilt
deployment is written with an audit entry that says it was recovered and from what.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from pathlib import Path

from turnout.config import Config
from turnout.control.local import Stack, state_db
from turnout.errors import NotReady, StateDamaged, TurnoutError
from turnout.model import Color, Deployment, Phase


def move_aside(path: Path) -> Path | None:
    """Keep a damaged store for the post-mortem, out of the way."""
    if not path.exists():
        return None
    moved = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    path.rename(moved)
    for extra in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + extra).rename(moved.with_name(moved.name + extra))
    return moved


async def recover_from_router(cfg: Config, actor: str) -> tuple[Deployment, Path | None]:
    moved = None
    try:
        stack = Stack.build(cfg)
    except StateDamaged:
        if cfg.state.url:
            raise  # a shared store is not ours to move aside
        moved = move_aside(state_db(cfg))
        stack = Stack.build(cfg)
    try:
        await stack.runtime.recover()
        statuses = {c: await stack.runtime.status(c) for c in Color}
        try:
            served = await stack.router.observe()
        except TurnoutError as exc:
            raise NotReady(f"cannot read the router: {exc}", hint="start the router (or attach to it), then recover "
                                                                  "again") from None
        active = served.weights.dominant
        if statuses[active].healthy == 0:
            raise NotReady(f"the router serves {active.value}, but no instance of it answers: nothing to recover "
                           "from", hint="start the release again with `turnout up --version V` after moving the "
                                        "state aside")
        dep = stack.store.load(cfg.app.name)
        now = time.time()
        rebuilt = replace(
            dep, active=active, phase=Phase.INITIAL, weights=served.weights, target=None,
            versions={c: statuses[c].version if statuses[c].instances else None for c in Color},
            warm={c: statuses[c].healthy > 0 for c in Color}, switched_at=now, retained_at=now)
        orch = stack.orchestrator(actor=actor)
        seen = ", ".join(f"{c.value}: {statuses[c].version or 'nothing'} ({statuses[c].healthy} healthy)"
                         for c in Color)
        saved = orch.journal.update(rebuilt, action="recover", outcome="ok",
                                    reason=f"state rebuilt from the router ({served.weights.as_dict()}) and the "
                                           f"runtime ({seen})" + (f"; the damaged store is {moved}" if moved else ""))
        return saved, moved
    except TurnoutError as exc:
        if moved:  # said now: the next `status` reads a new, empty store and the old one is not named
            exc.hint = f"{exc.hint}; the damaged store was moved to {moved}".lstrip("; ")
        raise
    finally:
        await stack.close()
