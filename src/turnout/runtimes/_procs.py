"""OS-level pieces of the process runtime: spawn a session leader, tell whether a pid is still ours,
wait for it to exit, signal its process group. Linux first (/proc, pidfd); polling elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from turnout.errors import RuntimeFailure
from turnout.procs import pid_alive

POLL = 0.1  # seconds between liveness checks where pidfd is not available
# Children of a closed runtime keep running; holding them here and polling now and then reaps the
# ones that exit (no zombies) without Popen.__del__ warning about running processes.
_let_go: list[subprocess.Popen[bytes]] = []


def let_go(child: subprocess.Popen[bytes]) -> None:
    _let_go.append(child)


def free_port(host: str, avoid: set[int]) -> int:
    """A port the kernel considers free on `host`, not in `avoid` (ports handed out but not yet bound)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port: int = s.getsockname()[1]
        if port not in avoid:
            return port
    raise RuntimeFailure(f"no free port on {host}")


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


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()  # the command name in parentheses may hold spaces


def starttime(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot: with the pid, a unique name for one process."""
    fields = _stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="surrogateescape") for part in raw.split(b"\0")[:-1]]


def alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie (an exited child nobody reaped yet)."""
    return pid_alive(pid)


def same_process(pid: int, started: int | None, command: Sequence[str]) -> bool:
    """Whether `pid` is still the process we recorded, not a stranger that got the pid since.

    The start time settles it where /proc has one; the command line is the fallback (a process
    may rename itself, so it is not the first test)."""
    if not alive(pid):
        return False
    now = starttime(pid)
    if started is not None and now is not None:
        return now == started
    line = cmdline(pid)
    return line is None or line == list(command)


def reap(pid: int) -> int | None:
    """Collect the exit status of `pid` if it is our exited child (no zombie left behind)."""
    with contextlib.suppress(ChildProcessError):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
    return None


async def wait_exit(pid: int) -> None:
    """Return once `pid` has exited. Works for processes that are not our children (adopted after
    a restart of the host): a pidfd turns readable when its process exits."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):  # no pidfd (old kernel, not Linux): poll
        while True:
            if not alive(pid):
                return
            await asyncio.sleep(POLL)
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def exited_within(pid: int, seconds: float) -> bool:
    try:
        async with asyncio.timeout(seconds):
            await wait_exit(pid)
    except TimeoutError:
        return False
    return True


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group `pid` leads (workers included), or just `pid` if it leads none."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def describe_exit(code: int | None) -> str:
    if code is None:
        return "exited"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def tail(path: Path, lines: int = 15) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 8192))
            text = f.read().decode(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
