"""The CLI starts fast: heavy libraries load only in the commands that use them (issue: instant
means instant). Wall-clock figures live in benchmarks/cli.py; this guards what is imported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .agent_helpers import turnout
from .conftest import write_config

HEAVY = ("scipy", "numpy", "pglast", "sqlglot", "kubernetes", "boto3", "botocore", "aiohttp", "rich", "httpx",
         "pydantic", "prometheus_client", "psycopg", "redis", "docker", "yaml", "uvloop", "httptools", "matplotlib")

PROBE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def loaded(body: str, cwd: Path) -> list[str]:
    res = subprocess.run([sys.executable, "-c", PROBE.format(body=body, heavy=HEAVY)], cwd=cwd,
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    found: list[str] = json.loads(res.stdout.strip().splitlines()[-1])
    return found


def test_import_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    assert loaded("import turnout.cli", tmp_path) == []


def run_cli(argv: list[str], cwd: Path) -> tuple[str, list[str]]:
    """Run the CLI in a fresh interpreter: its exit line and the heavy libraries it loaded."""
    body = f"""
from turnout.cli import main
sys.argv = ["turnout", *{argv!r}]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
print("exit", code, file=sys.stderr)
"""
    res = subprocess.run([sys.executable, "-c", PROBE.format(body=body, heavy=HEAVY)], cwd=cwd,
                         capture_output=True, text=True, timeout=60, check=False)
    heavy: list[str] = json.loads(res.stdout.strip().splitlines()[-1])
    return res.stderr.strip().splitlines()[-1], heavy


@pytest.mark.parametrize("argv", [["--help"], ["rollback"], ["switch"], ["ops"], ["promote"], ["abort"],
                                  ["report", "--help"], ["notify", "log"]])
def test_agent_commands_load_no_heavy_library(tmp_path: Path, argv: list[str]) -> None:
    """Commands that act through the agent (none runs here, so they fail fast) load only the client."""
    write_config(tmp_path)
    code, heavy = run_cli(argv, tmp_path)
    assert code in {"exit 0", "exit None", "exit 10"}, code  # it ran: help, or "no agent running" (10)
    assert heavy == []


def test_status_and_history_against_a_running_agent_load_no_heavy_library(tmp_path: Path) -> None:
    write_config(tmp_path)
    assert turnout(tmp_path, "up", "--detach", "--version", "1.0").returncode == 0
    try:
        for argv, allowed in ((["status", "--json"], []), (["history", "--json"], []), (["ops"], []),
                              (["status"], ["rich"])):  # a table on a terminal is what rich is for
            code, heavy = run_cli(argv, tmp_path)
            assert code in {"exit 0", "exit None"} and heavy == allowed, (argv, code, heavy)
    finally:
        turnout(tmp_path, "down", timeout=60)
