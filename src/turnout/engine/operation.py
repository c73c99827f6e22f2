"""A running operation as the engine sees it: its record, saved at every step, so an agent that
restarts finds where it was; the event that ends its current watch early; and what a command asked
of it. Only a command that acts on the operation sets an intent: anything else leaves it alone.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from turnout.engine.confirm import Approvals
from turnout.infra import failpoints
from turnout.model import Operation, OpState
from turnout.store.base import Store

IntentKind = Literal["abort", "rollback", "promote"]


@dataclass(frozen=True)
class Intent:
    """What a command asked of a running operation. A command that also acts itself (a rollback during
    the watch switches at once, without waiting for the watch) sets `settled` when it is done, and the
    operation records what is true then."""

    kind: IntentKind  # abort: stop it, old color serves; rollback: it went live, go back; promote: 100 % now
    actor: str
    reason: str
    settled: asyncio.Event = field(default_factory=asyncio.Event, compare=False)


def new_id() -> str:
    return f"op-{secrets.token_hex(4)}"


class OpHandle:
    def __init__(self, store: Store, op: Operation) -> None:
        self.store = store
        self.op = store.save_operation(op)
        self.stop = asyncio.Event()  # set: the current watch returns now
        self.intent: Intent | None = None
        self.approvals = Approvals()  # what an approval gate waits for

    @property
    def id(self) -> str:
        return self.op.id

    def step(self, step: str, **changes: Any) -> Operation:
        """Record the step about to run (before it runs: a crash leaves it for the next agent)."""
        self.op = self.store.save_operation(replace(self.op, step=step, **changes))
        failpoints.hit(f"step:{step}")
        return self.op

    def ask(self, intent: Intent) -> None:
        self.intent = intent
        self.stop.set()

    def take_intent(self) -> Intent | None:
        intent, self.intent = self.intent, None
        self.stop.clear()
        return intent

    def finish(self, state: OpState, message: str, exit_code: int = 0) -> Operation:
        self.op = self.store.save_operation(replace(self.op, state=state, step="done", message=message,
                                                    exit_code=exit_code, deadline=None))
        return self.op
