"""Where things are: the config file, the state folder, the agent's socket. Light on purpose: the
CLI finds its agent with this alone, without loading the config schema."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
import tomllib
from pathlib import Path

from turnout.errors import ConfigError, TurnoutError

DEFAULT_FILE = "turnout.toml"
DEFAULT_STATE = ".turnout"
MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to ~107 bytes


def find_config(path: str | Path | None = None) -> Path:
    """The config file: the given path, else turnout.toml in this folder or a parent."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{p}: no such config file", hint="create one with `turnout init`")
        return p
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_FILE).is_file():
            return folder / DEFAULT_FILE
    raise ConfigError(f"no {DEFAULT_FILE} here or in a parent folder", hint="create one with `turnout init`")


def state_dir(base_dir: Path, state_path: str) -> Path:
    """The state folder (state.path, relative to the config file's folder)."""
    return (base_dir / state_path).resolve()


def peek(config_file: Path) -> tuple[Path, str]:
    """(state folder, app name) of a config file, read without validating the rest of it: a broken
    file falls back to the defaults; the agent and check-config report what is wrong with it."""
    try:
        data = tomllib.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        data = {}
    state, app_table = data.get("state"), data.get("app")
    raw = state.get("path", DEFAULT_STATE) if isinstance(state, dict) else DEFAULT_STATE
    app = app_table.get("name", "") if isinstance(app_table, dict) else ""
    return state_dir(config_file.parent.resolve(), raw if isinstance(raw, str) else DEFAULT_STATE), str(app)


def private_dir() -> Path:
    """A folder only this user can enter, for sockets whose natural path is too long: the user's
    XDG_RUNTIME_DIR, else /tmp/turnout-<uid> created 0700 and refused if anyone else owns it or can
    write to it (in a shared temp folder another user could create the socket first)."""
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


def agent_paths(state: Path) -> tuple[Path, Path]:
    """(socket, pid file) of the agent that keeps its state in `state`."""
    return socket_path(state / "agent.sock"), state / "agent.pid"
