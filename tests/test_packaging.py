"""turnout works from a wheel: what `turnout init` and `turnout demo` need ships inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_the_starter_config_and_the_example_app(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                          "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, check=False, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    [wheel] = tmp_path.glob("turnout-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("turnout/config/starter.toml", "turnout/examples/app.py", "turnout/py.typed",
                   "turnout/proxy/__main__.py", "turnout/control/__main__.py"):
        assert needed in names, needed
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "turnout = turnout.cli:main" in text and "builtin = turnout.routers.builtin:BuiltinRouter" in text
