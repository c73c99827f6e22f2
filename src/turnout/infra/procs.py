"""Processes as turnout sees them: is this pid alive and still ours, reap it, wait for it, signal
its group, a free port. Linux first (/proc, pidfd); polling elsewhere. Zombies count as dead."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
from collections.abc import Sequence
from pathlib import Path

POLL = 0.1  # seconds between liveness checks where pidfd is not available


def pid_alive(pid: int | None) -> bool:
    """True for a running process; a zombie (exited, not yet reaped by its parent) counts as dead."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat(pid)
    return fields is None or fields[0] not in ("Z", "X")  # no procfs: trust kill(0)


def runs(pid: int | None, name: str) -> bool:
    """`pid` is alive and its command line mentions `name` (a pid file may outlive its process,
    and the pid may be reused by a stranger)."""
    if not pid_alive(pid):
        return False
    line = cmdline(pid or 0)
    return line is None or any(name in part for part in line)


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


def parent(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[1]) if fields and len(fields) > 1 else None


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="surrogateescape") for part in raw.split(b"\0")[:-1]]


def same_process(pid: int, started: int | None, command: Sequence[str]) -> bool:
    """Whether `pid` is still the process we recorded, not a stranger that got the pid since.

    The start time settles it where /proc has one; the command line is the fallback (a process
    may rename itself, so it is not the first test)."""
    if not pid_alive(pid):
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
    import asyncio  # here: the CLI imports this module, and asyncio costs it ~20 ms at start

    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):  # no pidfd (old kernel, not Linux): poll
        while True:
            if not pid_alive(pid):
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
    import asyncio

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


def free_port(host: str = "127.0.0.1", avoid: set[int] | frozenset[int] = frozenset()) -> int:
    """A port free on `host` now, not in `avoid`, and outside the kernel's ephemeral range.

    A port the kernel hands out for bind(0) is in the range it also gives to every outgoing
    connection and every other bind(0): between this call and the moment the caller binds it, a
    client socket or another server can take it. Ports below (or above) that range are only ever
    taken by someone who asks for them by number, so the window is shared with nobody but us."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    low, high = _ephemeral_range()
    pool = [(10000, low - 1), (high + 1, 65535)]  # from 10000: below it sit most services that start later
    pool = [(a, b) for a, b in pool if b - a >= 1000]
    for _ in range(200):
        if pool:
            a, b = _random.choice(pool)
            port = _random.randint(a, b)
        else:  # the ephemeral range covers (nearly) everything: let the kernel choose
            port = 0
        if port in avoid or port in _handed_out:
            continue
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            port = int(s.getsockname()[1])
        if port not in avoid and port not in _handed_out:
            _handed_out[port] = None
            if len(_handed_out) > HANDED_OUT_KEPT:  # a long-lived agent forgets the oldest: bound by now
                del _handed_out[next(iter(_handed_out))]
            return port
    raise OSError(f"no free port on {host}")


_random = random.SystemRandom()  # never the same sequence in two processes started at once
_handed_out: dict[int, None] = {}  # not handed out twice by one process before its user binds it (oldest first)
HANDED_OUT_KEPT = 1024


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default; macOS uses 49152-65535, also outside our pick mostly
