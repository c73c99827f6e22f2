"""Files as drivers need them: one atomic write, log tails, a private folder for unix sockets."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from turnout.errors import TurnoutError

MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to ~107 bytes


def atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write a temporary file next to the target, fsync, then rename: a reader (HAProxy, Envoy's
    inotify, a host that dies mid-write) sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log (read from its end: logs grow), for errors that say why."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.strip().splitlines()[-lines:])


def private_dir() -> Path:
    """A folder only this user can enter, for sockets whose natural path is too long: the user's
    XDG_RUNTIME_DIR, else /tmp/turnout-<uid> created 0700 and refused if anyone else owns it or can
    write to it (a shared temp folder would let another user create the socket first)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "turnout" if runtime and Path(runtime).is_dir() else \
        Path(tempfile.gettempdir()) / f"turnout-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = base.lstat()
    except OSError as exc:
        raise TurnoutError(f"cannot create the private socket folder {base}: {exc}") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise TurnoutError(f"{base} is not a private folder of this user (owner uid {info.st_uid}, "
                           f"mode {stat.S_IMODE(info.st_mode):o})",
                           hint="remove it, or use a shorter state.path so sockets live in the state folder")
    return base


def socket_path(path: Path) -> Path:
    """`path` if it fits a unix socket address, else a stable name in the user's private folder."""
    if len(str(path)) < MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return private_dir() / f"{digest}-{path.name}"
