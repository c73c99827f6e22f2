"""The CLI's side of the agent API: JSON over a unix socket, long operations streamed as JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from turnout.config import Config
from turnout.control.paths import agent_paths
from turnout.errors import AgentUnavailable, TurnoutError
from turnout.infra.procs import pid_alive

ERRORS: dict[str, type[TurnoutError]] = {}


def _error_class(name: str) -> type[TurnoutError]:
    if not ERRORS:
        import turnout.errors as errors_mod

        ERRORS.update({n: c for n, c in vars(errors_mod).items()
                       if isinstance(c, type) and issubclass(c, TurnoutError)})
    return ERRORS.get(name, TurnoutError)


class AgentClient:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.sock, self.pid_file = agent_paths(cfg)

    def _client(self, timeout: float | None) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=str(self.sock)), base_url="http://agent",
                            timeout=timeout)

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def running(self) -> bool:
        if not self.sock.exists():
            return False
        try:
            with self._client(2.0) as c:
                return c.get("/status").status_code == 200
        except httpx.HTTPError:
            return False

    def status(self) -> dict[str, Any]:
        try:
            with self._client(15.0) as c:
                data: dict[str, Any] = c.get("/status").json()
                return data
        except httpx.HTTPError:
            raise AgentUnavailable(f"the turnout agent for {self.cfg.app.name} is not running") from None

    def call(self, path: str, body: dict[str, Any] | None = None,
             on_event: Callable[[dict[str, Any]], None] | None = None) -> Any:
        """POST an operation and follow its progress until the result (or raise its error)."""
        if not self.running():
            raise AgentUnavailable(f"the turnout agent for {self.cfg.app.name} is not running")
        try:
            with self._client(None) as c, c.stream("POST", path, json=body or {}) as resp:
                for line in resp.iter_lines():
                    if not line.strip():
                        continue
                    item = json.loads(line)
                    if "result" in item:
                        return item["result"]
                    if "error" in item:
                        err = item["error"]
                        raise _error_class(err.get("type", ""))(err["message"], hint=err.get("hint") or "")
                    if on_event:
                        on_event(item)
        except httpx.HTTPError as exc:
            raise AgentUnavailable(f"lost the turnout agent for {self.cfg.app.name}: {exc or type(exc).__name__}"
                                   ) from None
        raise AgentUnavailable("the agent closed the connection before the operation finished",
                               hint="see `turnout status` and the agent log in the state folder")

    def start_detached(self, config_path: str, version: str | None, timeout: float = 90.0) -> int:
        """Start the agent in its own session and wait until it serves."""
        logs = self.cfg.state_dir() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "turnout.control", "--config", config_path]
        if version:
            cmd += ["--version", version]
        with open(logs / "agent.log", "ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (logs / "agent.log").read_text(errors="replace").strip().splitlines()[-1:]
                raise AgentUnavailable(f"the agent exited at start: {' '.join(tail)}",
                                       hint=f"full log: {logs / 'agent.log'}")
            if self.running():
                return proc.pid
            time.sleep(0.1)
        proc.terminate()
        raise AgentUnavailable(f"the agent did not come up within {timeout:.0f}s", hint=f"see {logs / 'agent.log'}")
