"""Failpoints for fault-injection tests: `TURNOUT_FAILPOINTS=validate:started,step:watching` makes the
process SIGKILL itself right after that audit entry is written or that operation step is saved, so a
test can cut the agent at every phase boundary deterministically (etcd's gofail, FoundationDB's buggify).
Unset (always, outside tests), a failpoint is one set lookup."""

from __future__ import annotations

import os
import signal

_ARMED = frozenset(p.strip() for p in os.environ.get("TURNOUT_FAILPOINTS", "").split(",") if p.strip())


def hit(name: str) -> None:
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
