"""Spawning instances as session leaders (they outlive the host; their group is signalled as one).
Liveness, reaping, waiting and signalling are turnout.infra.procs."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from turnout.errors import RuntimeFailure

# Children of a closed runtime keep running; holding them here and polling now and then reaps the
# ones that exit (no zombies) without Popen.__del__ warning about running processes.
_let_go: list[subprocess.Popen[bytes]] = []


def let_go(child: subprocess.Popen[bytes]) -> None:
    _let_go.append(child)


def spawn(argv: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path, header: str) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session (it outlives us; its group can be signalled as one), output to `log`."""
    _let_go[:] = [child for child in _let_go if child.poll() is None]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(header.encode())
        out.flush()
        try:
            return subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise RuntimeFailure(f"cannot start {argv[0]!r} in {cwd}: {exc.strerror or exc}",
                                 hint="check runtime.command and runtime.cwd") from None
