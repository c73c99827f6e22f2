"""Files as drivers need them: one atomic write, log tails, secrets created 0600."""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path


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


def tail(path: Path, lines: int = 15, since: str = "") -> str:
    """The last lines of a log (read from its end: logs grow), for errors that say why; with `since`,
    only what follows the last line starting with it (one run of a process, not the ones before)."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    found = text.splitlines()
    if since:
        marks = [i for i, line in enumerate(found) if line.startswith(since)]
        found = found[marks[-1] + 1:] if marks else found
    return "\n".join("\n".join(found).strip().splitlines()[-lines:]) or "(nothing logged)"



def set_aside(path: Path, stamp: str | None = None) -> Path | None:
    """Rename a damaged file to `<name>.damaged-TIME` (kept for a look); None if there was none."""
    aside = path.with_name(f"{path.name}.damaged-{stamp or time.strftime('%Y%m%dT%H%M%S')}")
    try:
        path.rename(aside)
    except FileNotFoundError:
        return None
    return aside


def secret_file(path: Path) -> str:
    """The secret in `path`, created once (0600, never world-readable, not even for a moment)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        try:
            secret = path.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            secret = ""
        if secret and secret.isprintable() and " " not in secret:
            return secret
        # damaged (empty, binary, broken by hand): kept aside, and a new one made, as on a first start
        set_aside(path)
        return secret_file(path)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secrets.token_urlsafe(24))
    return path.read_text(encoding="utf-8").strip()
