"""The SQL an ORM's migrations run, for `turnout migrate check --django` / `--alembic`.

Django: `sqlmigrate` for every migration of the project's plan, in one process started with the
project's own `manage.py` (so its settings, apps and database backend are the real ones). Alembic:
offline mode (`upgrade --sql`), split at its `-- Running upgrade a -> b` markers.

Migrations already applied to the database are returned too, marked `applied`: the checker reads
them for the schema (so a type change in a pending migration is judged against the real old
type) and reports only the pending ones. Django's `sqlmigrate` needs the project's database
(it reads the applied migrations); Alembic's offline mode does not, and when `alembic current`
cannot reach the database every revision counts as pending and a note says so.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from turnout.errors import UsageError

_BEGIN, _END = "<<<turnout-django>>>", "<<<end-turnout-django>>>"
# Runs inside `manage.py shell`: Django is set up with the project's settings.
_DJANGO_SCRIPT = """
import io, json
from django.core.management import call_command
from django.db import connections
from django.db.migrations.loader import MigrationLoader
alias = ALIAS
conn = connections[alias]
note = None
loader = MigrationLoader(conn)
applied = set(loader.applied_migrations)
plan = []
for leaf in sorted(loader.graph.leaf_nodes()):
    for node in loader.graph.forwards_plan(leaf):
        if node not in plan:
            plan.append(node)
out = []
for app, name in plan:
    buf = io.StringIO()
    call_command("sqlmigrate", app, name, database=alias, stdout=buf, no_color=True)
    out.append({"name": app + "." + name, "applied": (app, name) in applied, "sql": buf.getvalue()})
print(BEGIN + json.dumps({"vendor": conn.vendor, "migrations": out, "note": note}) + END)
"""


def _script(alias: str) -> str:
    return (_DJANGO_SCRIPT.replace("ALIAS", repr(alias)).replace("BEGIN + ", repr(_BEGIN) + " + ")
            .replace(" + END", " + " + repr(_END)))


_VENDORS = {"postgresql": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}
_RUNNING = re.compile(r"^-- Running upgrade (\S*) -> (\S+)", re.MULTILINE)


@dataclass(frozen=True)
class OrmMigration:
    name: str  # app.0002_x (Django) or the revision id (Alembic)
    sql: str
    applied: bool


@dataclass
class OrmPlan:
    dialect: str | None  # what the ORM's database backend is, when it says
    migrations: list[OrmMigration] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _run(args: list[str], cwd: Path, what: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"{what}: {exc}") from None


def django_plan(project: Path, database: str = "default", python: str = sys.executable) -> OrmPlan:
    manage = project / "manage.py" if project.is_dir() else project
    if not manage.is_file():
        raise UsageError(f"{project}: no manage.py (pass the Django project folder)")
    res = _run([python, str(manage.name), "shell", "--no-imports", "-v", "0", "-c",
                _script(database)], manage.parent, "django")
    if res.returncode != 0 and "--no-imports" in res.stderr:  # Django before 5.2 has no --no-imports
        res = _run([python, str(manage.name), "shell", "-v", "0", "-c", _script(database)],
                   manage.parent, "django")
    if res.returncode != 0 or _BEGIN not in res.stdout:
        tail = (res.stderr.strip() or res.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise UsageError(f"django: sqlmigrate failed in {manage.parent}: {tail[0]}")
    doc = json.loads(res.stdout.split(_BEGIN, 1)[1].split(_END, 1)[0])
    plan = OrmPlan(_VENDORS.get(doc["vendor"]))
    plan.migrations = [OrmMigration(m["name"], m["sql"], m["applied"]) for m in doc["migrations"]]
    if doc["note"]:
        plan.notes.append(f"django: {doc['note']}")
    return plan


def alembic_plan(ini: Path, python: str = sys.executable) -> OrmPlan:
    if not ini.is_file():
        raise UsageError(f"{ini}: no such alembic config file")
    base = [python, "-m", "alembic", "-c", str(ini.resolve())]
    plan = OrmPlan(None)
    current = _run([*base, "current"], ini.parent, "alembic")
    heads = re.findall(r"^([0-9A-Za-z_]+)(?: \(head\))?\s*$", current.stdout, re.MULTILINE)
    if current.returncode != 0:
        tail = (current.stderr.strip().splitlines() or ["no output"])[-1]
        plan.notes.append(f"alembic: database not reachable ({tail}): every revision counts as pending")
        heads = []
    if len(heads) > 1:
        raise UsageError("alembic: the database is at several heads; check a branch at a time")
    if heads:
        done = _run([*base, "upgrade", heads[0], "--sql"], ini.parent, "alembic")
        plan.migrations += [OrmMigration(n, s, True) for n, s in _split(_require(done, "upgrade --sql"))]
    todo = _run([*base, "upgrade", f"{heads[0]}:head" if heads else "head", "--sql"], ini.parent, "alembic")
    plan.migrations += [OrmMigration(n, s, False) for n, s in _split(_require(todo, "upgrade --sql"))]
    return plan


def _require(res: subprocess.CompletedProcess[str], what: str) -> str:
    if res.returncode != 0:
        tail = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"alembic {what} failed: {tail}")
    return res.stdout


def _split(sql: str) -> list[tuple[str, str]]:
    """Offline SQL -> one (revision, sql) per `-- Running upgrade` block; the preamble joins the first."""
    marks = list(_RUNNING.finditer(sql))
    out = []
    for i, m in enumerate(marks):
        start = 0 if i == 0 else m.start()
        end = marks[i + 1].start() if i + 1 < len(marks) else len(sql)
        # keep line numbers of the whole output, so findings point into what `upgrade --sql` printed
        out.append((m.group(2), "\n" * sql.count("\n", 0, start) + sql[start:end]))
    return out
