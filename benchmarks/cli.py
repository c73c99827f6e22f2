"""How fast the `turnout` command is where a user waits for it: import time per command, and wall
time of the commands typed against a running agent.

A stack is started in a temporary folder (builtin proxy, the example app on blue and green, the
agent), then each command runs in a fresh process the way a shell starts it: the console script
next to this interpreter. Figures are medians.

    import      `python -X importtime`: all modules a command loads, summed (ms)
    wall        the command's process from start to exit (ms), against the running agent
    migrate     `turnout migrate check` on 1 file and on 100 files of benchmarks/corpus (PostgreSQL)

Goals (issue: instant means instant): import turnout.cli <= 100 ms; status --json <= 150 ms
(median of 20); migrate check 1 file <= 300 ms, 100 files <= 2 s.

    python benchmarks/cli.py [--runs 20] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from stacks import write_config  # benchmarks/ is on sys.path when a script in it runs

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "src" / "turnout" / "examples" / "app.py"
CORPUS = ROOT / "benchmarks" / "corpus" / "postgresql"
SCRIPT = Path(sys.executable).with_name("turnout")
TURNOUT = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "turnout.cli"]
GOALS = {"import turnout.cli": 100.0, "status --json": 150.0, "migrate check (1 file)": 300.0,
         "migrate check (100 files)": 2000.0}


def wall(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    res = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    return (time.perf_counter() - started) * 1000, res


def import_ms(python_args: list[str], cwd: Path) -> float:
    """Sum of the top-level imports' cumulative times a run reports with -X importtime."""
    res = subprocess.run([sys.executable, "-X", "importtime", *python_args], cwd=cwd, capture_output=True, text=True,
                         timeout=120, check=False)
    total = 0
    for line in res.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)  # no indent: a top-level import
        if m and not m.group(2).startswith(" ") and m.group(2) not in ("site", "encodings"):
            total += int(m.group(1))
    return total / 1000


def median_wall(argv: list[str], cwd: Path, runs: int, between: list[str] | None = None) -> list[float]:
    times = []
    for _ in range(runs):
        ms, res = wall(argv, cwd)
        if res.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {res.returncode}: {res.stderr[-500:]}")
        times.append(ms)
        if between:
            subprocess.run(between, cwd=cwd, capture_output=True, timeout=120, check=True)
    return times


def run(runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="turnout-bench-cli-") as tmp:
        folder = Path(tmp)
        write_config(folder)
        out["import turnout.cli"] = [import_ms(["-c", "import turnout.cli"], folder) for _ in range(runs)]
        for argv in (["--help"], ["init", "--help"], ["migrate", "--help"]):
            out[f"wall {' '.join(argv)}"] = median_wall([*TURNOUT, *argv], folder, max(5, runs // 2))
        for cmd, args in (("up", ["--detach", "--version", "1.0"]), ("deploy", ["2.0"])):
            _, res = wall([*TURNOUT, cmd, *args], folder)
            if res.returncode != 0:
                raise RuntimeError(f"turnout {cmd}: {res.stderr}")
        try:
            for argv in (["status", "--json"], ["history", "--json"], ["ops"], ["status"]):
                out[" ".join(argv)] = median_wall([*TURNOUT, *argv], folder, runs)
                code = f"import sys; sys.argv = ['turnout', *{argv!r}]\nfrom turnout.cli import main\n" \
                       "try:\n    main()\nexcept SystemExit:\n    pass"
                out[f"import {' '.join(argv)}"] = [import_ms(["-c", code], folder) for _ in range(5)]
            out["rollback"] = median_wall([*TURNOUT, "rollback"], folder, max(5, runs // 2),
                                          between=[*TURNOUT, "switch"])
        finally:
            subprocess.run([*TURNOUT, "down"], cwd=folder, capture_output=True, timeout=120, check=False)
        files = sorted(CORPUS.glob("*.sql"))[:100]
        hundred = folder / "hundred"
        hundred.mkdir()
        for f in files:
            shutil.copy(f, hundred / f.name)
        check = [*TURNOUT, "migrate", "check", "--format", "json"]
        out["migrate check (1 file)"] = [wall([*check, str(files[0])], folder)[0] for _ in range(max(5, runs // 2))]
        out["migrate check (100 files)"] = [wall([*check, str(hundred)], folder)[0] for _ in range(5)]
        out["files in the 100-file run"] = len(files)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    raw = run(args.runs)
    summary = {}
    for name, values in raw.items():
        if not isinstance(values, list):
            continue
        med = statistics.median(values)
        row: dict[str, Any] = {"median_ms": round(med, 1), "max_ms": round(max(values), 1), "runs": len(values)}
        if name in GOALS:
            row |= {"goal_ms": GOALS[name], "met": med <= GOALS[name]}
        summary[name] = row
    if args.json:
        print(json.dumps({"command": TURNOUT, "summary": summary}, indent=2))
        return 0
    print(f"{'what':<30} {'median':>9} {'max':>9}  goal")
    for name, row in summary.items():
        goal = f"<= {row['goal_ms']:g} ms {'met' if row['met'] else 'NOT MET'}" if "goal_ms" in row else ""
        print(f"{name:<30} {row['median_ms']:>7.1f}ms {row['max_ms']:>7.1f}ms  {goal}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
