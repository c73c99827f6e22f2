"""`turnout demo --runtime docker` on a real engine; what the demo image holds; the CLI stays light."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.agent_helpers import TURNOUT
from tests.docker_runtime.engines import DockerEngine
from turnout.cli import docker_image


def test_demo_with_docker_runs_the_whole_story(tmp_path: Path, docker_engine: DockerEngine, app_image: str) -> None:
    res = subprocess.run([*TURNOUT, "demo", "--runtime", "docker", "--json", "--requests", "3000"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=240, check=False,
                         env={**os.environ, "DOCKER_HOST": docker_engine.url})
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout)
    process_keys = {"scenario", "requests", "failed", "errors", "switches", "rollbacks", "max_full_switch_ms",
                    "full_switch_ms", "colors", "rps", "p99_ms", "duration_s", "audit_events", "steps"}
    assert set(summary) == process_keys  # the same summary as with local processes
    assert summary["failed"] == 0, summary["errors"]
    assert summary["requests"] >= 3000 and (summary["switches"], summary["rollbacks"]) == (2, 1)
    assert set(summary["colors"]) == {"blue", "green"}
    assert "built turnout-demo/app" in res.stderr
    api = docker_engine.api()
    assert api.containers(all=True, filters={"label": ["turnout.app=demo"]}) == []  # down removed them all
    print(f"\n[demo --runtime docker] {summary['requests']} requests, {summary['failed']} failed, "
          f"{summary['rps']} req/s, p99 {summary['p99_ms']} ms, full switch {summary['full_switch_ms']} ms")


def test_the_example_app_needs_only_what_the_image_gets() -> None:
    """Every module examples/app.py imports when it starts is the standard library's or in the image."""
    tree = ast.parse(docker_image.APP.read_text())
    top: set[str] = set()
    for node in tree.body:  # module level only: imports inside functions are optional features
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top.add(node.module.split(".")[0])
    third_party = {m for m in top if m not in sys.stdlib_module_names and m != "__future__"}
    packaged = {d.metadata["Name"].lower().replace("-", "_") for d in
                docker_image.requirement_closure(docker_image.APP_DEPENDENCIES)}
    assert third_party <= packaged, third_party - packaged
    assert {"aiohttp", "prometheus_client", "multidict", "yarl"} <= packaged


def test_importing_the_cli_does_not_import_docker() -> None:
    code = ("import sys, turnout.cli, turnout.cli.commands, turnout.cli.demo\n"
            "heavy = [m for m in ('docker', 'requests', 'packaging.requirements') if m in sys.modules]\n"
            "print(','.join(heavy))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""
