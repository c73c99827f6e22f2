"""`turnout demo --report DIR`: the demo's bad release, and the report of its run written beside."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ..agent_helpers import TURNOUT


def test_demo_writes_the_report_of_its_run(tmp_path: Path) -> None:
    out = tmp_path / "img"
    res = subprocess.run([*TURNOUT, "demo", "--scenario", "bad-release", "--json", "--report", str(out)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads(res.stdout)
    assert summary["report"] == [str(out / f"demo-report.{ext}") for ext in ("html", "png", "json")]
    report = json.loads((out / "demo-report.json").read_text())
    assert report["operation"]["state"] == "rolled_back" and report["since"] == -3.0
    kinds = [m["kind"] for m in report["markers"]]
    for kind in ("deploy", "validate", "switch", "trigger", "rollback"):
        assert kind in kinds
    last = max(report["series"]["blue"]["at"])
    assert last > next(m["at"] for m in report["markers"] if m["kind"] == "rollback") + 2  # the aftermath too
    assert (out / "demo-report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'src="data:image/png;base64,' in (out / "demo-report.html").read_text()
