"""Shared fixtures: a turnout.toml for the example app on free loopback ports, and a built stack."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.pg import database, postgres  # noqa: F401  (fixtures for every test folder)
from turnout import config as config_mod
from turnout.control.local import Stack
from turnout.infra.procs import free_port
from turnout.model import Color

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "src" / "turnout" / "examples" / "app.py"
ADMIN_TOKEN = "test-admin-token"  # the example app's fault switch is off without it
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def write_config(folder: Path, extra: str = "", *, instances: int = 2, retention: str = "10m", top: str = "",
                 router: str = "builtin") -> Path:
    """`top`: top-level keys (before any table); `extra`: tables appended at the end."""
    command = json.dumps([sys.executable, str(APP), "--port", "{port}", "--version", "{version}", "--color", "{color}"])
    stabilize = "" if "[stabilize]" in extra else '[stabilize]\nwindow = "0s"\n'
    text = f"""{top}
[app]
name = "shop"

[runtime]
command = {command}
env = {{ EXAMPLE_ADMIN_TOKEN = "{ADMIN_TOKEN}" }}
instances = {instances}
ready_timeout = "5s"
stop_grace = "5s"

{stabilize}
[health]
successes = 2
interval = "50ms"
deadline = "5s"

[router]
kind = "{router}"
production = "127.0.0.1:{free_port()}"
test = "127.0.0.1:{free_port()}"
admin = "127.0.0.1:{free_port()}"
drain = "5s"

[deploy]
retention = "{retention}"
{extra}
"""
    path = folder / "turnout.toml"
    path.write_text(text)
    return path


MakeStack = Callable[..., Stack]


@pytest.fixture
async def make_stack(tmp_path: Path) -> AsyncIterator[MakeStack]:
    stacks: list[Stack] = []

    def make(extra: str = "", **kw: object) -> Stack:
        path = write_config(tmp_path, extra, **kw)  # type: ignore[arg-type]
        stack = Stack.build(config_mod.load(path))
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        for color in Color:
            await stack.runtime.stop(color, drain=0)
        await stack.router.release()
        await stack.close()
