"""The delivery log: one JSON line per delivery record, in the state folder (`logs/notify.jsonl`).

A file rather than the state store: deliveries are the agent's own doing on this host, they are
not state and not audit evidence, and a receiver that fails every second must not grow the audit
log. The file is kept to about 1 MB: past that it moves to `notify.jsonl.1` (one older file kept).
`turnout notify log` reads both, with or without the agent.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("turnout.notify")
MAX_BYTES = 1_000_000
FILE = "notify.jsonl"


class DeliveryLog:
    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path, self.max_bytes = path, max_bytes

    @classmethod
    def in_state(cls, state_dir: Path) -> DeliveryLog:
        return cls(state_dir / "logs" / FILE)

    def append(self, record: dict[str, Any]) -> None:
        """Write one record; a full disk loses the record (said in the agent log), never the event."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, separators=(",", ":")) + "\n")
        except OSError as exc:
            log.warning("cannot write the delivery log %s: %s", self.path, exc)

    def read(self, limit: int = 50) -> list[dict[str, Any]]:
        """The last `limit` records, oldest first."""
        lines: list[str] = []
        for path in (self.path.with_name(self.path.name + ".1"), self.path):
            try:
                lines += path.read_text(encoding="utf-8").splitlines()
            except OSError:
                continue
        records = []
        for line in lines[-limit:] if limit > 0 else []:
            try:
                records.append(json.loads(line))
            except ValueError:  # a line cut by a crash mid-write
                continue
        return records
