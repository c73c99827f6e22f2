"""What runs on each color, on disk (state_dir/runtime/<color>.json), so a new host can adopt it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from turnout.errors import RuntimeFailure
from turnout.infra import procs
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


def folder(state_dir: Path) -> Path:
    """The runtime folder as instances carry it in RUNTIME_ENV."""
    return (state_dir / "runtime").resolve()


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


RUNTIME_ENV = "TURNOUT_RUNTIME"  # set in every instance's environment: the runtime folder that started it


def found_running(state_dir: Path, color: Color) -> ColorRecord | None:
    """Rebuild a color's record from the processes themselves (/proc), for when its file is damaged:
    every instance carries the runtime folder, its color, version, index and port in its environment."""
    ours = str(folder(state_dir)).encode()
    instances = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = dict(item.split(b"=", 1) for item in (proc / "environ").read_bytes().split(b"\0") if b"=" in item)
            if env.get(RUNTIME_ENV.encode()) != ours or env.get(b"TURNOUT_COLOR") != color.value.encode():
                continue
            pid = int(proc.name)
            instances.append(InstanceRecord(
                index=int(env[b"TURNOUT_INSTANCE"]), port=int(env[b"PORT"]), version=env[b"TURNOUT_VERSION"].decode(),
                command=procs.cmdline(pid) or [], pid=pid, starttime=procs.starttime(pid)))
        except (OSError, KeyError, ValueError):  # gone meanwhile, not ours to read, or not one of ours
            continue
    # the process turnout started, not its children (a gunicorn's workers inherit its environment)
    pids = {i.pid for i in instances}
    instances = [i for i in instances if i.pid is not None and procs.parent(i.pid) not in pids]
    if not instances:
        return None
    versions = {i.version for i in instances}
    return ColorRecord(color, versions.pop() if len(versions) == 1 else max(versions), sorted(
        {i.index: i for i in instances}.values(), key=lambda i: i.index))
