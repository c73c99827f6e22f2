"""What runs on each color, on disk (state_dir/runtime/<color>.json), so a new host can adopt it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from turnout.errors import RuntimeFailure
from turnout.infra.files import atomic_write
from turnout.model import Color

FORMAT = 1


@dataclass
class InstanceRecord:
    index: int
    port: int
    version: str
    command: list[str] = field(default_factory=list)  # as started, placeholders filled in
    pid: int | None = None  # None while a restart is pending
    starttime: int | None = None  # /proc start time: tells our process from a later one with the same pid
    started_at: float = 0.0  # wall clock, for humans
    restarts: int = 0


@dataclass
class ColorRecord:
    color: Color
    version: str
    instances: list[InstanceRecord]


def path(state_dir: Path, color: Color) -> Path:
    return state_dir / "runtime" / f"{color.value}.json"


def save(state_dir: Path, record: ColorRecord) -> None:
    """Write atomically: a reader (or a host that dies mid-write) sees the old record or the new one."""
    target = path(state_dir, record.color)
    data = {"format": FORMAT, "color": record.color.value, "version": record.version,
            "instances": [asdict(i) for i in record.instances]}
    atomic_write(target, json.dumps(data, indent=1))


def load(state_dir: Path, color: Color) -> ColorRecord | None:
    file = path(state_dir, color)
    try:
        data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
        return ColorRecord(color, str(data["version"]), [InstanceRecord(**i) for i in data["instances"]])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeFailure(f"{file}: unreadable runtime record ({exc})",
                             hint="stop that color's instances by hand, then delete the file") from None


def remove(state_dir: Path, color: Color) -> None:
    path(state_dir, color).unlink(missing_ok=True)
