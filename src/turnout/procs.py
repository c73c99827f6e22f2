"""Process liveness that tells the truth about zombies (killed, not yet reaped by their parent)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def reap(pid: int) -> None:
    """Collect `pid` if it is our exited child, so it stops looking alive."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def pid_alive(pid: int | None) -> bool:
    """True for a running process; a zombie counts as dead."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")
