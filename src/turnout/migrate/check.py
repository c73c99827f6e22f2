"""Check migration files: static rules, then old-source references, shadow measurements, ignores.

Files are checked in path order and each one's DDL updates the schema the next one sees, so a
folder of migrations is judged the way it will run.

The parsers are imported here, on first use: pglast for PostgreSQL, sqlglot for MySQL/SQLite, so a
linter run pays only for the one it needs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from turnout.errors import UsageError
from turnout.migrate.context import CheckOptions, Ignore, Span, apply_ignores, parse_ignores, up_section
from turnout.migrate.findings import FileReport, ObjectRef, Report, SqlError, SqlParseError
from turnout.migrate.mysql_shadow import is_mysql_url
from turnout.migrate.refs import SourceTree, apply_references
from turnout.migrate.versions import stated_version

if TYPE_CHECKING:
    from turnout.migrate.catalog import Catalog
    from turnout.migrate.orm import OrmPlan

DIALECTS = ("postgresql", "mysql", "sqlite")


def collect(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*.sql") if q.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise UsageError(f"{p}: no such file or folder")
    return out


class Checker:
    """Holds the schema state across the files of one run."""

    def __init__(self, opts: CheckOptions) -> None:
        if opts.dialect not in DIALECTS:
            raise UsageError(f"unknown dialect {opts.dialect!r}; use one of {', '.join(DIALECTS)}")
        mysql_db = bool(opts.database) and is_mysql_url(opts.database or "")
        if opts.database and (opts.dialect == "sqlite" or (opts.dialect == "mysql") != mysql_db):
            raise UsageError("--database: a postgresql:// URL needs --dialect postgresql, a mysql:// or mariadb:// URL "
                             "--dialect mysql")
        self.opts = opts
        self.mysql_schema: dict[str, dict[str, Any]] = {}
        if opts.dialect == "postgresql":
            from turnout.migrate.catalog import Catalog

            self.catalog: Catalog = Catalog()
        for schema in opts.schema:
            text = schema.read_text(encoding="utf-8")
            if opts.dialect == "postgresql":
                for table_name, table in Catalog.from_sql(text).tables.items():
                    self.catalog.tables[table_name] = table
            else:
                from turnout.migrate.rules_sqlglot import schema_from_sql

                self.mysql_schema.update(schema_from_sql(text, "sqlite" if opts.dialect == "sqlite" else "mysql"))
        if opts.database and mysql_db:
            from turnout.migrate.mysql_shadow import load_schema

            live, version = load_schema(opts.database)
            self.mysql_schema.update(live)
            self.opts = dataclasses.replace(self.opts, mysql_version=version)  # the live server's, not a guess
        elif opts.database:
            from turnout.migrate.shadow import load_catalog

            self.catalog.tables.update(load_catalog(opts.database).tables)
        self.tree: SourceTree | None = None
        self.spans: dict[str, list[Span]] = {}

    def check_text(self, text: str, path: str = "<stdin>") -> FileReport:
        report = FileReport(path, self.opts.dialect)
        text = up_section(text)
        opts, stated = self.opts, stated_version(text, self.opts.dialect)
        if stated is not None and self.opts.dialect == "postgresql":
            opts = dataclasses.replace(opts, pg_version=stated.major)
        elif stated is not None:
            opts = dataclasses.replace(opts, mysql_version=stated)
        try:
            if self.opts.dialect == "postgresql":
                from turnout.migrate.rules_pg import PgChecker

                res: Any = PgChecker(text, opts, self.catalog).run()
            else:
                from turnout.migrate.rules_sqlglot import SqlglotChecker

                res = SqlglotChecker(text, self.opts.dialect, self.mysql_schema, opts.mysql_version).run()
        except SqlParseError as exc:
            report.error = exc.error
            return report
        findings = res.findings
        if self.tree is not None:
            findings = apply_references(findings, self.tree)
        report.statements, report.notes = res.statements, list(res.notes)
        if stated is not None:
            report.notes.insert(0, f"target {stated} (stated in the file)")
        self.spans[path] = res.spans
        ignores = [i for i in parse_ignores(text) if not (self.opts.database and _shadow_only(i))]
        ignored = apply_ignores(findings, ignores, res.spans)
        report.findings = ignored.findings
        report.notes.extend(ignored.notes)
        return report

    def check_files(self, files: list[Path]) -> Report:
        if self.opts.old_source is not None:
            self.tree = SourceTree.load(self.opts.old_source, exclude=set(files))
        checked: list[tuple[FileReport, str]] = []
        reports = []
        for f in files:
            try:
                text = f.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reports.append(FileReport(str(f), self.opts.dialect, error=SqlError(1, 1, f"cannot read: {exc}")))
                continue
            reports.append(self.check_text(text, str(f)))
            checked.append((reports[-1], text))
        if self.opts.database:
            self._shadow([(rep, text) for rep, text in checked if rep.error is None])
        return Report(reports)

    def check_orm(self, plan: OrmPlan) -> Report:
        """An ORM's migrations: the applied ones only teach the schema; the pending ones are reported."""
        reports, checked = [], []
        for m in plan.migrations:
            rep = self.check_text(m.sql, m.name)
            if not m.applied:
                reports.append(rep)
                if rep.error is None:
                    checked.append((rep, m.sql))
        if self.opts.database:
            self._shadow(checked)
        return Report(reports, notes=list(plan.notes))

    def _shadow(self, checked: list[tuple[FileReport, str]]) -> None:
        assert self.opts.database is not None
        if is_mysql_url(self.opts.database):
            self._mysql_shadow(checked)
            return
        from turnout.migrate.shadow import shadow_check

        jobs = []
        for rep, text in checked:
            targets: dict[int, tuple[ObjectRef, ...]] = {}
            for f in rep.findings:
                targets[f.line] = targets.get(f.line, ()) + f.objects
            jobs.append((rep.path, up_section(text), targets))
        results = shadow_check(self.opts.database, jobs)
        for rep, text in checked:
            res = results[rep.path]
            if res.error is not None:
                rep.error = res.error
            ignored = apply_ignores(res.findings, [i for i in parse_ignores(text) if _shadow_only(i)],
                                    self.spans.get(rep.path, []))
            rep.findings.extend(ignored.findings)
            rep.notes.extend(ignored.notes)


    def _mysql_shadow(self, checked: list[tuple[FileReport, str]]) -> None:
        from turnout.migrate.context import line_of
        from turnout.migrate.mysql_shadow import shadow_check
        from turnout.migrate.rules_sqlglot import chunks

        assert self.opts.database is not None
        jobs = []
        for rep, text in checked:
            up = up_section(text)
            jobs.append((rep.path, [(line_of(up, off)[0], sql) for off, sql in chunks(up, "mysql")]))
        results = shadow_check(self.opts.database, jobs)
        for rep, text in checked:
            res = results[rep.path]
            if res.error is not None:
                rep.error = res.error
            ignored = apply_ignores(res.findings, [i for i in parse_ignores(text) if _shadow_only(i)],
                                    self.spans.get(rep.path, []))
            rep.findings.extend(ignored.findings)
            rep.notes.extend(res.notes + ignored.notes)


def _shadow_only(ignore: Ignore) -> bool:
    return all(r.startswith("shadow-") for r in ignore.rules)


def check_paths(paths: list[Path], opts: CheckOptions | None = None) -> Report:
    return Checker(opts or CheckOptions()).check_files(collect(paths))


def check_django(project: Path, opts: CheckOptions, database: str = "default") -> Report:
    """The unapplied migrations of a Django project, as `sqlmigrate` prints them for its database."""
    from turnout.migrate.orm import django_plan

    plan = django_plan(project, database)
    if plan.dialect is not None and plan.dialect != opts.dialect:
        opts = dataclasses.replace(opts, dialect=plan.dialect)  # the project's backend decides the SQL
    return Checker(opts).check_orm(plan)


def check_alembic(ini: Path, opts: CheckOptions) -> Report:
    """The revisions an `alembic upgrade head` would run, from offline mode (`upgrade --sql`)."""
    from turnout.migrate.orm import alembic_plan

    return Checker(opts).check_orm(alembic_plan(ini))


def run_check(paths: list[Path], opts: CheckOptions, *, django: Path | None = None,
              alembic: Path | None = None) -> Report:
    """`turnout migrate check`: files and folders, or the pending migrations of a Django/Alembic project."""
    if sum(map(bool, (paths, django, alembic))) != 1:
        raise UsageError("check takes PATHs, --django PROJECT or --alembic INI (one of them)")
    if django is not None:
        return check_django(django, opts)
    if alembic is not None:
        return check_alembic(alembic, opts)
    return check_paths(paths, opts)
