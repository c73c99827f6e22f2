"""Expand/contract runner against a real PostgreSQL: expand before the new color, contract after retention."""

from __future__ import annotations

import textwrap
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from turnout.cli import migrate as migrate_cli
from turnout.cli.migrate import migrate
from turnout.errors import ConfigError, MigrationError
from turnout.migrate import Migrations, Phase, discover
from turnout.model import Color, Deployment

from .conftest import run_sql

BASE = "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL, login text);"


def write(folder: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(textwrap.dedent(text))
    return folder


@pytest.fixture
def app_db(database: str) -> str:
    run_sql(database, BASE)
    return database


def columns(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                           "WHERE table_name = 'users'")}


def applied(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT name, phase FROM turnout_migrations ORDER BY name")]


def test_discover_by_folder_and_header(tmp_path: Path) -> None:
    write(tmp_path, {"expand/0001_a.sql": "SELECT 1;", "contract/0002_b.sql": "SELECT 1;",
                     "0003_c.sql": "-- turnout:phase contract\nSELECT 1;"})
    assert [(m.name, m.phase) for m in discover(tmp_path)] == [
        ("0001_a.sql", Phase.EXPAND), ("0002_b.sql", Phase.CONTRACT), ("0003_c.sql", Phase.CONTRACT)]


@pytest.mark.parametrize(("files", "message"), [
    ({"0001.sql": "SELECT 1;"}, "0001.sql: no phase"),
    ({"expand/0001.sql": "-- turnout:phase contract\nSELECT 1;"}, "folder says expand but its header says contract"),
    ({"0001.sql": "-- turnout:phase later\n"}, "unknown phase 'later'"),
    ({"expand/0001.sql": "SELECT 1;", "contract/0001.sql": "SELECT 1;"}, "also named 0001.sql"),
])
def test_discover_errors(tmp_path: Path, files: dict[str, str], message: str) -> None:
    write(tmp_path, files)
    with pytest.raises(MigrationError, match=message):
        discover(tmp_path)


def test_expand_applies_and_tracks_contract_waits_for_retention(tmp_path: Path, app_db: str) -> None:
    write(tmp_path, {
        "expand/0001_add_username.sql": "ALTER TABLE users ADD COLUMN username text;\n"
                                        "CREATE INDEX CONCURRENTLY users_username ON users (username);\n",
        "expand/0002_backfill.sql": "UPDATE users SET username = login WHERE id BETWEEN 1 AND 1000;\n",
        "contract/0003_drop_login.sql": "ALTER TABLE users DROP COLUMN login;\n",
    })
    runner = Migrations(tmp_path, app_db)
    assert [m.name for m in runner.pending(Phase.EXPAND)] == ["0001_add_username.sql", "0002_backfill.sql"]

    done = runner.apply_expand()
    assert [m.name for m in done] == ["0001_add_username.sql", "0002_backfill.sql"]
    assert applied(app_db) == [("0001_add_username.sql", "expand"), ("0002_backfill.sql", "expand")]
    assert "username" in columns(app_db)
    assert runner.apply_expand() == []  # idempotent

    with pytest.raises(MigrationError, match="old color can still be rolled back to"):
        runner.apply_contract(lambda: True)
    assert "login" in columns(app_db)
    with pytest.raises(MigrationError, match="refused"):
        runner.apply(Phase.CONTRACT)  # allow_contract defaults to False

    assert [m.name for m in runner.apply_contract(lambda: False)] == ["0003_drop_login.sql"]
    assert "login" not in columns(app_db)
    assert applied(app_db)[-1] == ("0003_drop_login.sql", "contract")


def test_explicit_transaction_in_file(tmp_path: Path, app_db: str) -> None:
    write(tmp_path, {"expand/0001.sql": "BEGIN;\nALTER TABLE users ADD COLUMN a int;\nCOMMIT;\n"
                                        "BEGIN;\nALTER TABLE users ADD COLUMN b int;\nCOMMIT;\n"})
    assert [m.name for m in Migrations(tmp_path, app_db).apply_expand()] == ["0001.sql"]
    assert {"a", "b"} <= columns(app_db)


def test_from_config(tmp_path: Path, app_db: str) -> None:
    from turnout.config import load

    assert Migrations.from_config(load(_config(tmp_path, app_db))) is not None
    (tmp_path / "turnout.toml").write_text('[app]\nname = "shop"\n')
    assert Migrations.from_config(load(tmp_path / "turnout.toml")) is None


def test_unsafe_expand_is_refused_before_anything_runs(tmp_path: Path, app_db: str) -> None:
    write(tmp_path, {
        "expand/0001_ok.sql": "ALTER TABLE users ADD COLUMN nickname text;\n",
        "expand/0002_rename.sql": "ALTER TABLE users RENAME COLUMN login TO handle;\n",
    })
    with pytest.raises(MigrationError) as err:
        Migrations(tmp_path, app_db).apply_expand()
    assert "0002_rename.sql:1: backward_incompatible [rename-column]" in str(err.value)
    assert "nickname" not in columns(app_db)  # all or nothing: 0001 did not run either


def test_lock_risk_expand_runs_with_lock_timeout(tmp_path: Path, app_db: str) -> None:
    write(tmp_path, {"expand/0001_idx.sql": "CREATE INDEX users_email ON users (email);\n"})
    assert [m.name for m in Migrations(tmp_path, app_db).apply_expand()] == ["0001_idx.sql"]


def test_lock_timeout_gives_up_with_clear_error(tmp_path: Path, app_db: str) -> None:
    write(tmp_path, {"expand/0001.sql": "ALTER TABLE users ADD COLUMN x int;\n"})
    with psycopg.connect(app_db) as blocker:
        blocker.execute("SELECT * FROM users")  # holds ACCESS SHARE until rollback
        runner = Migrations(tmp_path, app_db, lock_timeout="100ms", retries=1, retry_delay=0.05)
        with pytest.raises(MigrationError, match="could not take its locks within lock_timeout 100ms after 2"):
            runner.apply_expand()
        blocker.rollback()
    assert "x" not in columns(app_db)


def test_failed_statement_names_file_and_line_and_rolls_back(tmp_path: Path, app_db: str) -> None:
    write(tmp_path, {"expand/0001.sql": "ALTER TABLE users ADD COLUMN a int;\nINSERT INTO nope VALUES (1);\n"})
    with pytest.raises(MigrationError, match=r'0001.sql:2: relation "nope" does not exist') as err:
        Migrations(tmp_path, app_db).apply_expand()
    assert err.value.hint == "nothing of it was applied"
    assert "a" not in columns(app_db)


def test_changed_applied_migration_is_an_error(tmp_path: Path, app_db: str) -> None:
    write(tmp_path, {"expand/0001.sql": "ALTER TABLE users ADD COLUMN a int;\n"})
    Migrations(tmp_path, app_db).apply_expand()
    write(tmp_path, {"expand/0001.sql": "ALTER TABLE users ADD COLUMN a bigint;\n"})
    with pytest.raises(MigrationError, match="changed since they ran: 0001.sql"):
        Migrations(tmp_path, app_db).apply_expand()
    assert [i.state for i in Migrations(tmp_path, app_db).plan()] == ["changed"]


def test_contract_waits_for_earlier_expand(tmp_path: Path, app_db: str) -> None:
    write(tmp_path, {"expand/0001.sql": "ALTER TABLE users ADD COLUMN a int;\n",
                     "contract/0002.sql": "ALTER TABLE users DROP COLUMN login;\n"})
    with pytest.raises(MigrationError, match="0001.sql must run before the contract"):
        Migrations(tmp_path, app_db).apply_contract(lambda: False)


def test_plan_says_what_runs_when(tmp_path: Path, app_db: str) -> None:
    write(tmp_path, {"expand/0001.sql": "ALTER TABLE users ADD COLUMN a int;\n",
                     "expand/0002.sql": "ALTER TABLE users DROP COLUMN email;\n",
                     "contract/0003.sql": "ALTER TABLE users DROP COLUMN login;\n"})
    runner = Migrations(tmp_path, app_db)
    plan = {i.migration.name: i for i in runner.plan(can_rollback=lambda: True)}
    assert plan["0001.sql"].when == "next `turnout deploy`, before the new color starts"
    assert plan["0002.sql"].verdict is not None and plan["0002.sql"].verdict.value == "destructive"
    assert plan["0002.sql"].when == "refused: not safe for the running version"
    assert plan["0003.sql"].when == "after the retention window (the old color can still be rolled back to)"
    assert runner.plan(can_rollback=lambda: False)[2].when == "now: `turnout migrate contract`"


def test_rollback_window() -> None:
    versions = {Color.BLUE: "1", Color.GREEN: "2"}
    warm = Deployment(app="a", active=Color.GREEN, switched_at=1000.0, warm={Color.BLUE: True, Color.GREEN: True},
                      versions=versions)
    assert warm.rollback_open(1500.0, retention=600)
    assert not warm.rollback_open(1700.0, retention=600)
    cold = Deployment(app="a", active=Color.GREEN, switched_at=1000.0, warm={Color.BLUE: False, Color.GREEN: True},
                      versions=versions)
    assert not cold.rollback_open(1100.0, retention=600)


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    cfg = tmp_path / "turnout.toml"
    cfg.write_text(f'[app]\nname = "shop"\n\n[database]\nurl = "{url}"\nmigrations = "db"\n{extra}')
    return cfg


def test_cli_plan_and_contract(tmp_path: Path, app_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "db", {"expand/0001.sql": "ALTER TABLE users ADD COLUMN a int;\n",
                            "contract/0002.sql": "ALTER TABLE users DROP COLUMN login;\n"})
    cfg = str(_config(tmp_path, app_db))
    cli = CliRunner()
    res = cli.invoke(migrate, ["apply-expand", "-c", cfg])
    assert res.exit_code == 0 and res.output == "applied 0001.sql\n"

    window = {"open": True}
    monkeypatch.setattr(migrate_cli, "rollback_open", lambda c: window["open"] and c.app.name == "shop")
    res = cli.invoke(migrate, ["plan", "-c", cfg])
    assert res.output.splitlines() == [
        "expand    applied  0001.sql: already applied",
        "contract  pending  0002.sql [destructive]: after the retention window (the old color can still be "
        "rolled back to)"]
    res = cli.invoke(migrate, ["contract", "-c", cfg])
    assert isinstance(res.exception, MigrationError) and res.exception.exit_code == 11
    window["open"] = False
    res = cli.invoke(migrate, ["contract", "-c", cfg])
    assert res.exit_code == 0 and res.output == "applied 0002.sql\n"
    res = cli.invoke(migrate, ["plan", "-c", cfg, "--json"])
    assert '"state": "applied"' in res.output and '"pending"' not in res.output
    assert cli.invoke(migrate, ["contract", "-c", cfg, "--force"]).output == "no pending contract migrations\n"


@pytest.mark.parametrize(("extra", "message"), [
    ('colour = "x"\n', "database.colour: unknown key"),
    ('lock_timeout = "soon"\n', "database.lock_timeout: expected"),
])
def test_database_config_errors(tmp_path: Path, extra: str, message: str) -> None:
    res = CliRunner().invoke(migrate, ["plan", "-c", str(_config(tmp_path, "postgresql://x/y", extra))])
    assert isinstance(res.exception, ConfigError) and message in str(res.exception)


def test_url_from_environment(tmp_path: Path, app_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "db" / "expand").mkdir(parents=True)
    monkeypatch.setenv("SHOP_DB", app_db)
    res = CliRunner().invoke(migrate, ["plan", "-c", str(_config(tmp_path, "${SHOP_DB}"))])
    assert res.exit_code == 0, res.output
    assert res.output == f"no migrations in {(tmp_path / 'db').resolve()}\n"
