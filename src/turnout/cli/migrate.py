"""`turnout migrate ...`: check, plan, apply-expand, contract.

Exit codes. `check` is a linter: 0 every file safe, 1 findings (a non-safe verdict), 2 a file could
not be parsed or a usage error. The commands that touch a database raise turnout errors, which the
main CLI maps to their exit codes (MigrationError 11: refused or failed; ConfigError 2).

Whether the old color can still be rolled back to comes from the state store
(`control.local.rollback_open`, the deployment's one retention rule).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from turnout.config import Config, load
from turnout.control.local import rollback_open
from turnout.migrate.check import DIALECTS, check_paths
from turnout.migrate.context import CheckOptions, TxMode
from turnout.migrate.render import FORMATS, render
from turnout.migrate.runner import Migrations
from turnout.migrate.settings import DatabaseSettings


def _pg_version(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        major = int(float(value))
    except ValueError:
        raise click.BadParameter(f"expected a version like 15 or 11.2, got {value!r}") from None
    if not 9 <= major <= 30:
        raise click.BadParameter(f"unsupported PostgreSQL version {value}")
    return major


@click.group("migrate")
def migrate() -> None:
    """Check SQL migrations for blue-green safety; run them in expand/contract phases."""


@migrate.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--dialect", type=click.Choice(DIALECTS), default="postgresql", show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--pg-version", default="15", callback=_pg_version, show_default=True,
              help="Target PostgreSQL major version (11: fast defaults; 12: SET NOT NULL via a valid CHECK).")
@click.option("--tx-mode", type=click.Choice([m.value for m in TxMode]), default="auto", show_default=True,
              help="auto: as `turnout migrate` runs files; file: one transaction per file; statement: autocommit.")
@click.option("--old-source", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Source of the running version: drops/renames it still references stay flagged.")
@click.option("--database", metavar="URL", help="Shadow-check on a schema-only copy of this PostgreSQL database.")
@click.option("--schema", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Existing schema as SQL (e.g. pg_dump -s), so type changes are judged exactly.")
def check(paths: tuple[Path, ...], dialect: str, fmt: str, pg_version: int, tx_mode: str,  # noqa: PLR0917
          old_source: Path | None, database: str | None, schema: tuple[Path, ...]) -> None:
    """Classify every statement: safe, lock_risk, backward_incompatible or destructive."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise click.BadParameter(f"{missing[0]}: no such file or folder", param_hint="PATHS")
    opts = CheckOptions(dialect=dialect, pg_version=pg_version, tx_mode=TxMode(tx_mode), old_source=old_source,
                        database=database, schema=schema)
    report = check_paths(list(paths), opts)
    click.echo(render(report, fmt))
    raise SystemExit(report.exit_code)


def _migrations(config_path: Path | None) -> tuple[Config, Migrations]:
    cfg = load(config_path)
    return cfg, Migrations.from_settings(DatabaseSettings.from_config(cfg))


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
    _, runner = _migrations(config_path)
    done = runner.apply_expand()
    click.echo("\n".join(f"applied {m.name}" for m in done) or "no pending expand migrations")


@migrate.command("contract")
@_config_option
@click.option("--force", is_flag=True, help="Skip the rollback-window check: you assert the old color is retired.")
def contract(config_path: Path | None, force: bool) -> None:
    """Run pending contract migrations once the old color can no longer be rolled back to."""
    cfg, runner = _migrations(config_path)
    done = runner.apply_contract(lambda: False if force else rollback_open(cfg))
    click.echo("\n".join(f"applied {m.name}" for m in done) or "no pending contract migrations")
