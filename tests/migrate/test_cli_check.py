"""`turnout migrate check`: output formats, verdicts, exit codes, parse errors, old-source scan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from turnout.cli.migrate import migrate


def run(*args: str) -> Result:
    return CliRunner().invoke(migrate, ["check", *args])


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {
        "safe": "-- release 7\nALTER TABLE users ADD COLUMN nick text;\n",
        "lock": "CREATE INDEX users_age ON users (age);\n",
        "rename": "SELECT 1;\nALTER TABLE users RENAME COLUMN name TO full_name;\n",
        "drop": "ALTER TABLE users DROP COLUMN legacy;\nCREATE INDEX i ON users (a);\n",
        "bad": "ALTER TABLE users ADD COLUMN nick text;\nALTER TABLE users ADD COLUMN ;\n",
    }
    paths = {}
    for name, sql in out.items():
        paths[name] = tmp_path / f"{name}.sql"
        paths[name].write_text(sql)
    return paths


@pytest.mark.parametrize(("names", "verdict", "code"), [
    (["safe"], "safe", 0), (["safe", "lock"], "lock_risk", 1), (["lock", "rename"], "backward_incompatible", 1),
    (["rename", "drop"], "destructive", 1), (["drop", "bad"], "error", 2),
])
def test_run_verdict_is_the_worst_file(files: dict[str, Path], names: list[str], verdict: str, code: int) -> None:
    res = run("--format", "json", *[str(files[n]) for n in names])
    assert res.exit_code == code
    assert json.loads(res.output)["verdict"] == verdict


def test_json_shape(files: dict[str, Path]) -> None:
    doc = json.loads(run("--format", "json", str(files["drop"])).output)
    [f] = doc["files"]
    assert f["path"] == str(files["drop"]) and f["verdict"] == "destructive"
    assert [(x["rule"], x["verdict"], x["line"], x["phase"]) for x in f["findings"]] == [
        ("drop-column", "destructive", 1, "contract"), ("create-index", "lock_risk", 2, "expand")]
    first = f["findings"][0]
    assert set(first) == {"rule", "verdict", "line", "message", "safe_alternative", "phase", "lock_timeout"}
    assert first["message"].startswith("Dropping users.legacy deletes its data")
    assert isinstance(first["safe_alternative"], list) and len(first["safe_alternative"]) == 3
    assert f["statements"] == [{"line": 1, "kind": "AlterTableStmt", "verdict": "destructive"},
                               {"line": 2, "kind": "IndexStmt", "verdict": "lock_risk"}]


def test_parse_error_names_file_line_and_column(files: dict[str, Path]) -> None:
    res = run(str(files["bad"]))
    assert res.exit_code == 2
    assert f"{files['bad']}:2:30: error: syntax error at or near \";\"" in res.output
    doc = json.loads(run("--format", "json", str(files["bad"])).output)
    assert doc["files"][0]["error"] == {"line": 2, "column": 30, "message": 'syntax error at or near ";"'}


@pytest.mark.parametrize(("sql", "where"), [
    ("SELECT 1 FROM", "1:14"), ("CREATE TABLE t (a int);\nALTER TABLE t ADD COLUMN\n\n", "2:25"),
    ("DO $$ BEGIN", "1:4"), ("CREATE TABLE t (a int", "1:22")])
def test_sql_cut_short_is_an_error_at_its_end(tmp_path: Path, sql: str, where: str) -> None:
    # pglast reports no offset for an error at the end of the input: still a clear error, never a crash
    path = tmp_path / "cut.sql"
    path.write_text(sql)
    res = run(str(path))
    assert res.exit_code == 2, res.output
    assert f"{path}:{where}: error: " in res.output, res.output


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT 1 FROM", "1:13: error: Expected table name but got end of input"),
    ("INSERT INTO t (a) VALUES", "1:24: error: incomplete Values: 'expressions' missing")])
def test_mysql_parse_errors_read_as_sql_not_as_sqlglot_internals(tmp_path: Path, sql: str, message: str) -> None:
    path = tmp_path / "cut.sql"
    path.write_text(sql)
    res = run("--dialect", "mysql", str(path))
    assert res.exit_code == 2 and f"{path}:{message}\n" in res.output, res.output
    assert "Token" not in res.output and "<class" not in res.output


def test_text_format(files: dict[str, Path]) -> None:
    out = run(str(files["rename"])).output.splitlines()
    assert out[0] == f"{files['rename']}: backward_incompatible (2 statements)"
    assert out[1] == (f"  {files['rename']}:2: backward_incompatible [rename-column] Renaming users.name to "
                      "full_name breaks the running version, which still uses name.")
    assert out[2] == "    phase: contract; SET lock_timeout = '2s'"
    assert out[3] == "    1. expand: ADD COLUMN full_name (nullable, same type) to users"
    assert out[-1] == "verdict: backward_incompatible"


def test_github_annotations(files: dict[str, Path]) -> None:
    lines = run("--format", "github", str(files["drop"]), str(files["bad"])).output.splitlines()
    assert lines[0].startswith(f"::error file={files['drop']},line=1,title=turnout drop-column::destructive: Dropping")
    assert lines[1].startswith(f"::warning file={files['drop']},line=2,title=turnout create-index::lock_risk:")
    assert lines[2] == (f"::error file={files['bad']},line=2,col=30,title=turnout: SQL error::"
                        'syntax error at or near ";"')


def test_sarif(files: dict[str, Path]) -> None:
    doc = json.loads(run("--format", "sarif", str(files["drop"])).output)
    assert doc["version"] == "2.1.0"
    run0 = doc["runs"][0]
    assert [r["id"] for r in run0["tool"]["driver"]["rules"]] == ["create-index", "drop-column"]
    res = run0["results"][0]
    assert (res["ruleId"], res["level"]) == ("drop-column", "error")
    assert res["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert res["properties"] == {"verdict": "destructive", "phase": "contract", "lock_timeout": "2s"}


def test_folder_and_options(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "0001.sql").write_text("CREATE TABLE t (id int, name varchar(20));\n")
    (tmp_path / "m" / "0002.sql").write_text("ALTER TABLE t ALTER COLUMN name TYPE varchar(40);\n")
    assert run(str(tmp_path / "m")).exit_code == 0  # 0002 is judged with 0001's schema
    (tmp_path / "old.sql").write_text("ALTER TABLE t ADD COLUMN b boolean DEFAULT true;\n")
    assert run("--pg-version", "10.5", str(tmp_path / "old.sql")).exit_code == 1
    assert run("--pg-version", "11", str(tmp_path / "old.sql")).exit_code == 0
    res = run("--pg-version", "eleven", str(tmp_path / "old.sql"))
    assert res.exit_code == 2 and "expected a version such as 'postgresql 15'" in res.output
    res = run(str(tmp_path / "missing.sql"))
    assert res.exit_code == 2 and "no such file or folder" in res.output
    (tmp_path / "empty").mkdir()
    res = run(str(tmp_path / "empty"))  # a folder without migrations passes, but says it checked nothing
    assert res.exit_code == 0 and "no .sql file in" in res.output and "nothing was checked" in res.output


def test_mysql_dialect(tmp_path: Path) -> None:
    (tmp_path / "m.sql").write_text("ALTER TABLE `users` CHANGE `login` `username` VARCHAR(64) NULL;\n")
    doc = json.loads(run("--dialect", "mysql", "--format", "json", str(tmp_path / "m.sql")).output)
    assert [x["rule"] for x in doc["files"][0]["findings"]] == ["rename-column"]
    assert doc["files"][0]["notes"] == ["line 1: users.username: assumed a narrower type widened to VARCHAR(64) "
                                        "(old definition unknown); pass --schema or --database to know"]


def test_old_source_scan(tmp_path: Path) -> None:
    src = tmp_path / "blue"
    (src / "app" / "models").mkdir(parents=True)
    (src / "app" / "models" / "user.py").write_text("class User:\n    email: str\n    displayName = 'x'\n")
    (src / "web").mkdir()
    (src / "web" / "profile.ts").write_text("const q = `SELECT legacy_code FROM users`;\n")
    (src / "migrations").mkdir()
    (src / "migrations" / "0001.sql").write_text("CREATE TABLE users (nickname text, display_name text);\n")
    mig = tmp_path / "m.sql"
    mig.write_text("ALTER TABLE users DROP COLUMN nickname;\nALTER TABLE users DROP COLUMN legacy_code;\n"
                   "ALTER TABLE users RENAME COLUMN display_name TO shown_name;\n")
    res = run("--old-source", str(src), "--format", "json", str(mig))
    findings = json.loads(res.output)["files"][0]["findings"]
    by_line = {f["line"]: f for f in findings}
    # nickname is only in old migrations (skipped): unused by the running version, so the drop is compatible
    assert by_line[1]["verdict"] == "safe" and "never references it (2 files scanned)" in by_line[1]["message"]
    assert by_line[2]["verdict"] == "destructive" and by_line[2]["references"] == ["web/profile.ts:1"]
    assert by_line[3]["verdict"] == "backward_incompatible"  # found as camelCase displayName
    assert by_line[3]["references"] == ["app/models/user.py:3"]
    assert json.loads(res.output)["verdict"] == "destructive" and res.exit_code == 1


def test_target_version_from_flags_config_and_file(tmp_path: Path) -> None:
    mig = tmp_path / "m.sql"
    mig.write_text("ALTER TABLE t ADD COLUMN b boolean DEFAULT true;\n")
    cfg = tmp_path / "turnout.toml"
    cfg.write_text('[app]\nname = "shop"\n\n[database]\nurl = "postgresql://x/y"\nversion = "postgresql 10"\n')
    res = run("-c", str(cfg), "--format", "json", str(mig))
    assert [f["rule"] for f in json.loads(res.output)["files"][0]["findings"]] == ["add-column-rewrite"]
    assert run("--pg-version", "11", "-c", str(cfg), str(mig)).exit_code == 0  # the flag wins over the config
    assert run(str(mig)).exit_code == 0  # default 15
    mig.write_text("-- turnout:postgres-version 10\n" + mig.read_text())
    assert run("--pg-version", "15", str(mig)).exit_code == 1  # the file wins over the flag
    my = tmp_path / "my.sql"
    my.write_text("ALTER TABLE t ADD COLUMN x INT, ALGORITHM=INSTANT;\n")
    assert run("--dialect", "mysql", "--mysql-version", "8.0.11", str(my)).exit_code == 1
    assert run("--dialect", "mysql", "--mysql-version", "mariadb 10.6", str(my)).exit_code == 0
    res = run("--dialect", "mysql", "--mysql-version", "postgresql 15", str(my))
    assert res.exit_code == 2 and "is not a mysql version" in res.output
    cfg.write_text('[app]\nname = "shop"\n\n[database]\nurl = "postgresql://x/y"\nversion = "oracle 19"\n')
    res = run("-c", str(cfg), str(mig))
    assert res.exit_code != 0 and "database.version" in str(res.exception or res.output)


def test_paths_or_one_orm(tmp_path: Path) -> None:
    res = run()
    assert res.exit_code == 2 and "check takes PATHs, --django PROJECT or --alembic INI" in res.output
