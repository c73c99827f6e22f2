"""Expand/contract inside the deploy, against a real PostgreSQL: expand runs before the new color
starts; an unsafe expand stops the deploy; contract is refused while rollback is possible."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from turnout.errors import MigrationError
from turnout.model import Color, Phase

from ..conftest import MakeStack
from .conftest import run_sql


def migrations(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / "migrations" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def db_config(url: str) -> str:
    return f'[database]\nurl = "{url}"\nmigrations = "migrations"\n'


def columns(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'users'")
        return {r[0] for r in rows}


async def test_expand_runs_before_the_new_color_starts(make_stack: MakeStack, tmp_path: Path, database: str) -> None:
    run_sql(database, "CREATE TABLE users (id bigint PRIMARY KEY, user_name text)")
    migrations(tmp_path, {"expand/001_username.sql": "ALTER TABLE users ADD COLUMN username text;\n"})
    stack = make_stack(db_config(database))
    orch = stack.orchestrator()
    await orch.bootstrap("1.0")
    assert columns(database) == {"id", "user_name"}  # nothing runs before a deploy
    await orch.deploy("2.0")
    assert columns(database) == {"id", "user_name", "username"}
    with psycopg.connect(database) as conn:
        applied_at = conn.execute("SELECT extract(epoch FROM applied_at) FROM turnout_migrations "
                                  "WHERE name = '001_username.sql'").fetchone()[0]  # type: ignore[index]
    record = json.loads((tmp_path / ".turnout" / "runtime" / "green.json").read_text())
    assert all(float(applied_at) < i["started_at"] for i in record["instances"])
    actions = [(e.action, e.outcome) for e in orch.store.history("shop")]
    assert actions.index(("migrate", "ok")) < actions.index(("validate", "started"))
    # a second deploy finds nothing pending and runs nothing again
    await orch.deploy("3.0")
    assert [e.reason for e in orch.store.history("shop") if e.action == "migrate"] == ["expand: 001_username.sql"]


async def test_unsafe_expand_stops_the_deploy(make_stack: MakeStack, tmp_path: Path, database: str) -> None:
    run_sql(database, "CREATE TABLE users (id bigint PRIMARY KEY, user_name text)")
    migrations(tmp_path, {"expand/001_rename.sql": "ALTER TABLE users RENAME COLUMN user_name TO username;\n"})
    orch = make_stack(db_config(database)).orchestrator()
    await orch.bootstrap("1.0")
    with pytest.raises(MigrationError, match="001_rename.sql"):
        await orch.deploy("2.0")
    dep = orch.current()
    assert (dep.phase, dep.active) == (Phase.ABORTED, Color.BLUE)
    assert (await orch.runtime.status(Color.GREEN)).instances == ()  # never started
    assert columns(database) == {"id", "user_name"}  # nothing ran


async def test_contract_refused_during_retention_allowed_after(make_stack: MakeStack, tmp_path: Path,
                                                               database: str) -> None:
    run_sql(database, "CREATE TABLE users (id bigint PRIMARY KEY, user_name text)")
    migrations(tmp_path, {"expand/001_username.sql": "ALTER TABLE users ADD COLUMN username text;\n",
                          "contract/002_drop_old.sql": "ALTER TABLE users DROP COLUMN user_name;\n"})
    orch = make_stack(db_config(database)).orchestrator()
    await orch.bootstrap("1.0")
    await orch.deploy("2.0")
    cli = [sys.executable, "-m", "turnout.cli", "migrate"]
    plan = subprocess.run([*cli, "plan", "--json"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert plan.returncode == 0, plan.stderr
    refused = subprocess.run([*cli, "contract"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert refused.returncode == 11 and "rolled back to" in refused.stderr
    assert "user_name" in columns(database)
    await orch.scale_down(Color.BLUE)  # what the retention window's end does
    done = subprocess.run([*cli, "contract"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert columns(database) == {"id", "username"}
    # both the refusal and the run are in the audit log, with who ran them
    audit = [(e.outcome, e.reason) for e in orch.store.history("shop") if e.action == "migrate"]
    assert ("ok", "contract: 002_drop_old.sql") in audit
    assert any(outcome == "failed" and "rolled back to" in reason for outcome, reason in audit)
