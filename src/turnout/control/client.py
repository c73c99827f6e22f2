"""The CLI's side of the control API: HTTP over the agent's unix socket, with the standard library.

It imports the wire types and nothing of the engine, the drivers or the config schema, so a
command that only talks to the agent starts in tens of milliseconds. Before it talks, it checks
that the socket belongs to this user: another local user must not be able to stand in for the agent.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from turnout import errors
from turnout.control import api
from turnout.errors import AgentUnavailable, TurnoutError
from turnout.events import Accepted, AuditEvent, ProgressEvent
from turnout.infra.procs import pid_alive
from turnout.locations import agent_paths
from turnout.model import Color

T = TypeVar("T")
_FRAME = msgspec.json.Decoder(api.Frame)
# A live agent answers a command's headers at once (the work goes on in the stream): this long without
# them means a stopped or blocked agent, and the CLI says so instead of waiting forever.
ANSWER_TIMEOUT = 10.0


class ForeignSocket(AgentUnavailable):
    """The agent's socket is not this user's: whoever made it is not our agent."""


class Interrupted(Exception):
    """Ctrl-C while following: the operation goes on in the agent (if it had started one)."""

    def __init__(self, operation: str | None) -> None:
        super().__init__(operation or "")
        self.operation = operation


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float | None) -> None:
        super().__init__("agent", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(str(self.unix_path))
        self.sock = sock


def _error(e: api.OpError) -> TurnoutError:
    cls = getattr(errors, e.type, None)
    if not (isinstance(cls, type) and issubclass(cls, TurnoutError)):
        cls = TurnoutError
    exc = cls(e.message, hint=e.hint)
    exc.exit_code = e.exit_code  # the agent's verdict stands (70 for a bug in the agent)
    return exc


def _start_failure(code: int, log: Path, start: int = 0) -> TurnoutError:
    """The agent's own error when it refused to start (it prints `error:` and `hint:`), with its exit code.
    Only what this start wrote (from byte `start`) counts: the log keeps earlier starts' errors and hints."""
    with open(log, "rb") as f:
        f.seek(start)
        lines = f.read().decode(errors="replace").strip().splitlines()[-20:]
    error = next((ln.removeprefix("error: ") for ln in reversed(lines) if ln.startswith("error: ")), None)
    hint = next((ln.removeprefix("hint: ") for ln in lines if ln.startswith("hint: ")), "") if error else ""
    if error is None:
        return AgentUnavailable(f"the agent exited at start: {' '.join(lines[-1:])}", hint=f"full log: {log}")
    exc = TurnoutError(error, hint=hint or f"full log: {log}")
    exc.exit_code = code or 1
    return exc


class AgentClient:
    def __init__(self, state_dir: Path, app: str = "") -> None:
        self.state_dir, self.app = state_dir, app
        self.sock, self.pid_file = agent_paths(state_dir)

    def _connection(self, timeout: float | None) -> _UnixConnection:
        self._check_owner()
        return _UnixConnection(self.sock, timeout)

    def _check_owner(self) -> None:
        try:
            owner = self.sock.lstat().st_uid
        except OSError:
            raise AgentUnavailable(self._down()) from None
        if owner != os.getuid():
            raise ForeignSocket(f"{self.sock} belongs to uid {owner}, not to you: refusing to talk to it",
                                hint="someone else created the agent socket; remove it and start the agent again")

    def _down(self) -> str:
        return f"the turnout agent{f' for {self.app}' if self.app else ''} is not running"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        try:
            self.get("/v1/status", timeout=2.0)
        except TurnoutError:
            return False
        return True

    def get(self, path: str, timeout: float = 15.0) -> bytes:
        conn = self._connection(timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
        except OSError as exc:
            raise AgentUnavailable(f"{self._down()} ({exc})") from None
        finally:
            conn.close()
        if resp.status != 200:
            raise AgentUnavailable(f"the agent answered HTTP {resp.status} to {path}")
        return body

    def status(self) -> api.StatusView:
        return msgspec.json.decode(self.get("/v1/status", timeout=ANSWER_TIMEOUT), type=api.StatusView)

    def call(self, command: str, args: api.Request, on_event: Callable[[ProgressEvent], None] | None = None,
             *, detach: bool = False) -> Any:
        """Run `command` and follow its progress until the result (typed), or raise its error. With
        `detach`, return the Accepted event as soon as the agent took an operation on."""
        return self._follow("POST", f"/v1/{command}", api.RESULTS.get(command, api.DeploymentView), on_event,
                            body=api.encode(args), detach=detach)

    def follow(self, operation: str, on_event: Callable[[ProgressEvent], None] | None = None) -> Any:
        """Follow a running operation to its end (its events so far are replayed first)."""
        return self._follow("GET", f"/v1/operations/{operation}/follow", api.DeploymentView, on_event)

    def history(self, limit: int) -> list[AuditEvent]:
        return msgspec.json.decode(self.get(f"/v1/history?limit={limit}"), type=list[AuditEvent])

    def logs(self, color: Color, lines: int, follow: bool) -> Iterator[dict[str, str]]:
        """Lines the color's instances printed, as {"instance", "text"}; with `follow`, until closed."""
        conn = self._connection(None if follow else 30.0)
        try:
            try:
                conn.request("GET", f"/v1/logs/{color.value}?lines={lines}&follow={int(follow)}")
                resp = conn.getresponse()
            except OSError as exc:
                raise AgentUnavailable(f"{self._down()} ({exc})") from None
            if resp.status != 200:
                frame = msgspec.json.decode(resp.read() or b"{}", type=api.Frame)
                raise _error(frame.error) if frame.error else AgentUnavailable(f"logs: HTTP {resp.status}")
            while raw := resp.readline():
                if raw.strip():
                    line: dict[str, str] = msgspec.json.decode(raw)
                    yield line
        finally:
            conn.close()

    def traffic(self, since: float) -> list[dict[str, Any]]:
        """The agent's traffic points (one per color a second) after `since`."""
        points: list[dict[str, Any]] = msgspec.json.decode(self.get(f"/v1/traffic?since={since}"))
        return points

    def operations(self) -> list[api.OperationView]:
        return msgspec.json.decode(self.get("/v1/operations"), type=list[api.OperationView])

    def _follow(self, method: str, path: str, result: type[Any], on_event: Callable[[ProgressEvent], None] | None,
                *, body: bytes | None = None, detach: bool = False) -> Any:
        conn = self._connection(ANSWER_TIMEOUT)
        operation: str | None = None
        try:
            try:
                conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            except (ConnectionRefusedError, FileNotFoundError):
                raise AgentUnavailable(f"{self._down()} (its socket was left by an agent that was killed)",
                                       hint="`turnout up --detach` takes over what runs; then run this again"
                                       ) from None
            try:
                resp = conn.getresponse()
            except TimeoutError:
                pid = self.pid()
                raise AgentUnavailable(
                    f"the agent{f' (pid {pid})' if pid else ''} did not answer within {ANSWER_TIMEOUT:g}s: it is "
                    "stopped or blocked; the command may still run if it wakes up",
                    hint="`turnout status` reads the router and the instances without it; an agent that stays "
                         "like this can be killed (kill -9: traffic goes on) and `turnout up --detach` takes over"
                ) from None
            if conn.sock is not None:
                conn.sock.settimeout(None)  # answered: an operation may now stream for as long as it runs
            while line := resp.readline():
                if not line.strip():
                    continue
                frame = _FRAME.decode(line)
                if frame.error is not None:
                    raise _error(frame.error)
                if frame.event is not None:
                    if isinstance(frame.event, Accepted):
                        operation = frame.event.operation
                        if detach:
                            return frame.event
                    if on_event is not None:
                        on_event(frame.event)
                    continue
                return api.convert(result, frame.result)
        except KeyboardInterrupt:
            raise Interrupted(operation) from None
        except OSError as exc:
            raise AgentUnavailable(f"lost the turnout agent: {exc or type(exc).__name__}") from None
        finally:
            conn.close()
        raise AgentUnavailable("the agent closed the connection before the operation finished",
                               hint="see `turnout status` and the agent log in the state folder")

    def start_detached(self, config_path: str, version: str | None, timeout: float = 90.0) -> int:
        """Start the agent in its own session and wait until it serves."""
        logs = self.state_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "turnout.control", "--config", config_path]
        if version:
            cmd += ["--version", version]
        with open(logs / "agent.log", "ab") as log:
            start = log.tell()
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise _start_failure(proc.returncode, logs / "agent.log", start)
            if self.running():
                return proc.pid
            time.sleep(0.1)
        proc.terminate()
        raise AgentUnavailable(f"the agent did not come up within {timeout:.0f}s", hint=f"see {logs / 'agent.log'}")
