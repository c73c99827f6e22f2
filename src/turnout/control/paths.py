"""Where the agent of one config listens and records its pid: named once, here."""

from __future__ import annotations

from pathlib import Path

from turnout.config import Config
from turnout.infra.files import socket_path


def agent_paths(cfg: Config) -> tuple[Path, Path]:
    """(socket, pid file) of the agent for this config's state folder."""
    state = cfg.state_dir()
    return socket_path(state / "agent.sock"), state / "agent.pid"
