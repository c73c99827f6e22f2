"""A turnout.toml for benchmarks that drive the real agent: the example app, one instance per
color, no watch, the given router on free loopback ports."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from turnout.infra.procs import free_port

APP = Path(__file__).resolve().parents[1] / "src" / "turnout" / "examples" / "app.py"


def write_config(folder: Path, kind: str = "builtin") -> None:
    command = json.dumps([sys.executable, str(APP), "--port", "{port}", "--version", "{version}",
                          "--color", "{color}", "--grace", "1"])
    (folder / "turnout.toml").write_text(f"""
[app]
name = "bench"

[runtime]
command = {command}
instances = 1
stop_grace = "2s"

[stabilize]
window = "0s"

[router]
kind = "{kind}"
production = "127.0.0.1:{free_port()}"
test = "127.0.0.1:{free_port()}"
admin = "127.0.0.1:{free_port()}"
drain = "2s"

[deploy]
retention = "1h"
""")
