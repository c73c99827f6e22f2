"""Shadow check against a real PostgreSQL: rewrites, blocking scans, dependent objects, clean-up."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.pg import PgServer
from turnout.errors import MigrationError
from turnout.migrate import CheckOptions, check_paths

from .conftest import run_sql

SCHEMA = """
CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL, name varchar(50), age int, legacy_code text);
CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint, total numeric(10,2));
CREATE VIEW active_users AS SELECT id, email FROM users;
CREATE FUNCTION legacy_lookup(c text) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN RETURN (SELECT id FROM users WHERE legacy_code = c); END $$;
INSERT INTO users (email, name, age) SELECT 'u' || g || '@example.com', 'n' || g, g FROM generate_series(1, 500) g;
ANALYZE users;
"""


@pytest.fixture
def source(database: str) -> str:
    run_sql(database, SCHEMA)
    return database


def shadow(tmp_path: Path, url: str, files: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    paths = []
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        paths.append(tmp_path / name)
    report = check_paths(paths, CheckOptions(database=url))
    out: dict[str, dict[str, list[str]]] = {}
    for f in report.files:
        rules: dict[str, list[str]] = {}
        for x in f.findings:
            rules.setdefault(x.rule, []).append(x.message)
        if f.error:
            rules["error"] = [f"{f.error.line}: {f.error.message}"]
        out[Path(f.path).name] = rules
    return out


def test_rewrite_is_detected_by_relfilenode(tmp_path: Path, source: str) -> None:
    res = shadow(tmp_path, source, {
        "a.sql": "ALTER TABLE users ALTER COLUMN age TYPE bigint;\n",
        "b.sql": "ALTER TABLE users ALTER COLUMN name TYPE varchar(100);\n",  # binary-coercible: no rewrite
        "c.sql": "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();\n",
    })
    assert "users" in res["a.sql"]["shadow-rewrite"][0]
    assert "~500 rows" in res["a.sql"]["shadow-rewrite"][0]  # sizes come from the source database
    assert "AccessExclusiveLock" in res["a.sql"]["shadow-rewrite"][0]
    assert set(res["b.sql"]) == set()  # the live catalog knows name was varchar(50)
    assert "shadow-rewrite" in res["c.sql"]


def test_blocking_scan_but_not_validate_in_its_own_transaction(tmp_path: Path, source: str) -> None:
    res = shadow(tmp_path, source, {
        "a.sql": "ALTER TABLE users ADD CONSTRAINT age_positive CHECK (age > 0);\n",
        "b.sql": "ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total > 0) NOT VALID;\n",
        "c.sql": "ALTER TABLE orders VALIDATE CONSTRAINT total_positive;\n",
        "d.sql": "CREATE INDEX CONCURRENTLY orders_user ON orders (user_id);\n",
    })
    assert "shadow-scan" in res["a.sql"] and "add-check-constraint" in res["a.sql"]
    assert res["b.sql"] == {} and res["c.sql"] == {}  # c sees b's constraint: files replay in order
    assert res["d.sql"] == {}  # run non-concurrently in the shadow, but not reported as blocking


def test_dependent_view_blocks_drop_and_cascade_is_reported(tmp_path: Path, source: str) -> None:
    res = shadow(tmp_path, source, {
        "a.sql": "ALTER TABLE users DROP COLUMN email;\n",
        "b.sql": "ALTER TABLE users DROP COLUMN email CASCADE;\n",
    })
    assert "active_users" in res["a.sql"]["shadow-dependency"][0]
    assert "drop-column" in res["a.sql"]
    assert "view active_users" in res["b.sql"]["shadow-cascade"][0]


def test_function_still_referencing_a_dropped_column(tmp_path: Path, source: str) -> None:
    res = shadow(tmp_path, source, {"a.sql": "ALTER TABLE users DROP COLUMN legacy_code;\n"})
    assert "legacy_lookup(text)" in res["a.sql"]["shadow-function-reference"][0]


def test_failure_on_current_schema_is_an_error_with_line(tmp_path: Path, source: str) -> None:
    res = shadow(tmp_path, source, {"a.sql": "SELECT 1;\nALTER TABLE users ADD COLUMN email text;\n"})
    assert res["a.sql"]["error"] == ['2: fails on a schema-only copy of the database: column "email" of relation '
                                     '"users" already exists']


def test_source_is_untouched_and_shadow_dropped(tmp_path: Path, source: str, postgres: PgServer) -> None:
    shadow(tmp_path, source, {"a.sql": "ALTER TABLE users DROP COLUMN age;\nDROP TABLE orders;\n"})
    with psycopg.connect(source) as conn:
        cols = {r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns "
                                           "WHERE table_name = 'users'")}
        assert "age" in cols
        assert conn.execute("SELECT to_regclass('orders')").fetchone() == ("orders",)
    with psycopg.connect(postgres.url()) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'turnout_shadow_%'").fetchall()
    assert left == []


def test_cli_with_database_and_unreadable_files(tmp_path: Path, source: str) -> None:
    from click.testing import CliRunner

    from turnout.cli.migrate import migrate

    (tmp_path / "a.sql").write_text("ALTER TABLE users ALTER COLUMN age TYPE bigint; -- turnout:ignore "
                                    "shadow-rewrite users is small\n")
    (tmp_path / "b.bin").write_bytes(b"\xff\xfe ALTER")
    res = CliRunner().invoke(migrate, ["check", "--database", source, "--format", "json", str(tmp_path / "a.sql")])
    [f] = json.loads(res.output)["files"]
    assert {(x["rule"], x.get("ignored")) for x in f["findings"]} == {
        ("column-type-rewrite", None), ("shadow-rewrite", "users is small")}
    res = CliRunner().invoke(migrate, ["check", str(tmp_path / "b.bin")])
    assert res.exit_code == 2 and "cannot read" in res.output
    bad_url = "postgresql://nobody@127.0.0.1:1/x"
    res = CliRunner().invoke(migrate, ["check", "--database", bad_url, str(tmp_path / "a.sql")])
    assert isinstance(res.exception, MigrationError) and "cannot read the schema" in str(res.exception)
