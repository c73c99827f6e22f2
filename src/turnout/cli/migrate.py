"""`turnout migrate ...`: check, plan, apply-expand, contract.

Exit codes. `check` is a linter: 0 every file safe, 1 findings (a non-safe verdict), 2 a file could
not be parsed or a usage error. The commands that touch a database raise turnout errors, which the
main CLI maps to their exit codes (MigrationError 11: refused or failed; ConfigError 2).

Whether the old color can still be rolled back to comes from the state store
(`control.local.rollback_open`, the deployment's one retention rule).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from turnout.errors import ConfigError, MigrationError, UsageError
from turnout.migrate.check import DIALECTS, run_check
from turnout.migrate.context import CheckOptions, TxMode
from turnout.migrate.render import FORMATS, render
from turnout.migrate.settings import configured_version
from turnout.migrate.versions import parse_version, resolve

if TYPE_CHECKING:  # the runner (psycopg) and the config schema load only for the commands that use them
    from turnout.config import Config
    from turnout.migrate.runner import Migrations

def _version(engine: str) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_version(value, engine)
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None
        return value
    return check


@click.group("migrate")
def migrate() -> None:
    """Check SQL migrations for blue-green safety; run them in expand/contract phases."""


@migrate.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--dialect", type=click.Choice(DIALECTS), default="postgresql", show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--pg-version", callback=_version("postgresql"),
              help="Target PostgreSQL version [default: [database] version, else 15]. A file may state its own "
                   "(-- turnout:postgres-version 11).")
@click.option("--mysql-version", callback=_version("mysql"),
              help="Target MySQL or MariaDB version, e.g. 8.0.29 or 'mariadb 10.11' [default: 8.0.29].")
@click.option("--config", "-c", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="turnout.toml whose [database] version is the target server.")
@click.option("--django", type=click.Path(exists=True, path_type=Path), metavar="PROJECT",
              help="Check the unapplied migrations of this Django project (its manage.py, via sqlmigrate).")
@click.option("--alembic", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="INI",
              help="Check the revisions `alembic upgrade head` would run (offline --sql) with this alembic.ini.")
@click.option("--tx-mode", type=click.Choice([m.value for m in TxMode]), default="auto", show_default=True,
              help="auto: as `turnout migrate` runs files; file: one transaction per file; statement: autocommit.")
@click.option("--old-source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Source of the running version: drops/renames it still references stay flagged.")
@click.option("--database", metavar="URL",
              help="Shadow-check on a schema-only copy of this database (postgresql://, or mysql:// for "
                   "MySQL/MariaDB).")
@click.option("--schema", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Existing schema as SQL (e.g. pg_dump -s), so type changes are judged exactly.")
def check(paths: tuple[Path, ...], dialect: str, fmt: str, pg_version: str | None,  # noqa: PLR0917
          mysql_version: str | None, config_path: Path | None, django: Path | None, alembic: Path | None,
          tx_mode: str, old_source: Path | None, database: str | None, schema: tuple[Path, ...]) -> None:
    """Classify every statement: safe, lock_risk, backward_incompatible or destructive."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise click.BadParameter(f"{missing[0]}: no such file or folder", param_hint="PATHS")
    targets = resolve(pg_version, mysql_version, configured_version(config_path) if config_path else None)
    opts = CheckOptions(dialect=dialect, tx_mode=TxMode(tx_mode), old_source=old_source, database=database,
                        schema=schema, **targets)  # type: ignore[arg-type]
    try:
        report = run_check(list(paths), opts, django=django, alembic=alembic)
    except UsageError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(render(report, fmt))
    if paths and not report.files:  # a wrong folder must not pass as a clean one without a word
        click.echo(f"note: no .sql file in {', '.join(map(str, paths))}: nothing was checked", err=True)
    raise SystemExit(report.exit_code)


def _migrations(config_path: Path | None) -> tuple[Config, Migrations]:
    from turnout.config import load
    from turnout.migrate.runner import Migrations
    from turnout.migrate.settings import DatabaseSettings

    cfg = load(config_path)
    try:
        return cfg, Migrations.from_settings(DatabaseSettings.from_config(cfg))
    except ConfigError as exc:
        raise cfg.locate(exc) from None


def rollback_open(cfg: Config) -> bool:
    """Whether the old color can still be rolled back to (the state store's answer; loaded on use)."""
    from turnout.control.local import rollback_open as from_store

    return from_store(cfg)


_config_option = click.option("--config", "-c", "config_path", type=click.Path(path_type=Path),
                              help="turnout.toml (default: here or in a parent folder).")


@migrate.command("plan")
@_config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plan(config_path: Path | None, as_json: bool) -> None:
    """Show which migrations run when: expand at the next deploy, contract after the retention window."""
    cfg, runner = _migrations(config_path)
    items = runner.plan(can_rollback=lambda: rollback_open(cfg))
    if as_json:
        click.echo(json.dumps({"migrations": [i.as_dict() for i in items]}, indent=2))
        return
    if not items:
        click.echo(f"no migrations in {runner.folder}")
    for i in items:
        verdict = f" [{i.verdict.value}]" if i.verdict else ""
        click.echo(f"{i.migration.phase.value:<9} {i.state:<8} {i.migration.name}{verdict}: {i.when}")


@migrate.command("apply-expand")
@_config_option
def apply_expand(config_path: Path | None) -> None:
    """Run pending expand migrations now (turnout deploy does this before starting the new color)."""
    cfg, runner = _migrations(config_path)
    done = runner.apply_expand()
    if done:
        from turnout.control.local import record

        record(cfg, "migrate", "ok", f"expand (by hand): {', '.join(m.name for m in done)}")
    click.echo("\n".join(f"applied {m.name}" for m in done) or "no pending expand migrations")


@migrate.command("contract")
@_config_option
@click.option("--force", is_flag=True, help="Skip the rollback-window check: you assert the old color is retired.")
def contract(config_path: Path | None, force: bool) -> None:
    """Run pending contract migrations once the old color can no longer be rolled back to."""
    cfg, runner = _migrations(config_path)
    try:
        done = runner.apply_contract(lambda: False if force else rollback_open(cfg))
    except MigrationError as exc:
        from turnout.control.local import record

        record(cfg, "migrate", "failed", f"contract: {exc}")
        raise
    if done:
        from turnout.control.local import record

        record(cfg, "migrate", "ok", f"contract{' (--force)' if force else ''}: {', '.join(m.name for m in done)}")
    click.echo("\n".join(f"applied {m.name}" for m in done) or "no pending contract migrations")
