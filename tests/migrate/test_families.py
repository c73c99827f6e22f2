"""The families the external labelled set exposed (issue 14): each general rule, both ways where it can fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.migrate import Checker, CheckOptions, check_paths
from turnout.migrate.catalog import Catalog
from turnout.migrate.rules_sqlglot import schema_from_sql

PG_SCHEMA = """
CREATE TABLE users (id int PRIMARY KEY, name varchar(50), age int, small smallint, price numeric(10,2),
                    seen timestamp, doc json, body text, code char(3), email text);
CREATE TABLE orders (id bigint PRIMARY KEY, user_id int,
                     CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
                     CONSTRAINT orders_user_nn CHECK (user_id IS NOT NULL));
"""
MY_SCHEMA = """
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL, nick VARCHAR(20), age INT NOT NULL,
                    data BLOB NOT NULL, kind ENUM('a', 'b') NOT NULL, login VARCHAR(64) NOT NULL);
"""


def pg(sql: str, schema: bool = True, **opts: object) -> tuple[list[tuple[str, int]], list[str]]:
    checker = Checker(CheckOptions(**opts))  # type: ignore[arg-type]
    if schema:
        checker.catalog = Catalog.from_sql(PG_SCHEMA)
    report = checker.check_text(sql)
    assert report.error is None, report.error
    return sorted((f.rule, f.line) for f in report.active), report.notes


def my(sql: str, schema: bool = True, **opts: object) -> tuple[list[tuple[str, int]], list[str]]:
    checker = Checker(CheckOptions(dialect="mysql", **opts))  # type: ignore[arg-type]
    if schema:
        checker.mysql_schema.update(schema_from_sql(MY_SCHEMA, "mysql"))
    report = checker.check_text(sql)
    assert report.error is None, report.error
    return sorted((f.rule, f.line) for f in report.active), report.notes


REWRITE, BREAK = ("column-type-rewrite", 1), ("change-column-type", 1)


@pytest.mark.parametrize(("sql", "expected"), [
    # widening: old code can still read and write everything; only the rewrite is a problem
    ("ALTER TABLE users ALTER COLUMN age TYPE bigint;", [REWRITE]),
    ("ALTER TABLE users ALTER COLUMN small TYPE int;", [REWRITE]),
    ("ALTER TABLE users ALTER COLUMN doc TYPE jsonb USING doc::jsonb;", [REWRITE]),
    ("ALTER TABLE users ALTER COLUMN price TYPE numeric(14,4);", [REWRITE]),  # more scale: rewrite, still fits
    # binary-coercible: nothing at all
    ("ALTER TABLE users ALTER COLUMN name TYPE varchar(255);", []),
    ("ALTER TABLE users ALTER COLUMN name TYPE text;", []),
    ("ALTER TABLE users ALTER COLUMN price TYPE numeric(12,2);", []),
    # narrowing and representation changes break the running version too
    ("ALTER TABLE users ALTER COLUMN name TYPE varchar(20);", [BREAK, REWRITE]),
    ("ALTER TABLE users ALTER COLUMN age TYPE smallint;", [BREAK, REWRITE]),
    ("ALTER TABLE users ALTER COLUMN price TYPE numeric(10,1);", [BREAK, REWRITE]),
    ("ALTER TABLE users ALTER COLUMN body TYPE varchar(100);", [BREAK, REWRITE]),
    ("ALTER TABLE users ALTER COLUMN age TYPE text;", [BREAK, REWRITE]),
    ("ALTER TABLE users ALTER COLUMN body TYPE jsonb USING body::jsonb;", [BREAK, REWRITE]),
])
def test_pg_type_change_judged_by_what_old_code_can_do(sql: str, expected: list[tuple[str, int]]) -> None:
    assert pg(sql)[0] == expected


def test_pg_type_change_with_unknown_old_type_says_what_it_assumed() -> None:
    found, notes = pg("ALTER TABLE accounts ALTER COLUMN balance TYPE bigint;", schema=False)
    assert found == [REWRITE]
    assert notes == ["line 1: accounts.balance: old type unknown, assumed integer or smallint (compatible, "
                     "rewrite); pass --schema or --database to know"]
    assert pg("ALTER TABLE accounts ALTER COLUMN title TYPE varchar(200);", schema=False)[0] == []
    # the author needed USING: no assignment cast, so not a plain widening
    assert pg("ALTER TABLE accounts ALTER COLUMN v TYPE jsonb USING v::jsonb;", schema=False)[0] == [BREAK, REWRITE]
    assert pg("ALTER TABLE accounts ALTER COLUMN v TYPE uuid;", schema=False)[0] == [BREAK, REWRITE]


def test_directory_mode_carries_the_schema_forward(tmp_path: Path) -> None:
    (tmp_path / "0001_create.sql").write_text("CREATE TABLE t (id int, name varchar(50), n int);\n")
    (tmp_path / "0002_widen.sql").write_text("ALTER TABLE t ALTER COLUMN name TYPE varchar(100);\n")
    (tmp_path / "0003_rename.sql").write_text("ALTER TABLE t RENAME COLUMN name TO title;\n")
    (tmp_path / "0004_narrow.sql").write_text("ALTER TABLE t ALTER COLUMN title TYPE varchar(80);\n")
    report = check_paths([tmp_path])
    assert [sorted(f.rule for f in r.active) for r in report.files] == [
        [], [], ["rename-column"], ["change-column-type", "column-type-rewrite"]]


@pytest.mark.parametrize(("sql", "expected"), [
    ("ALTER TABLE orders DROP CONSTRAINT orders_user_fk;", []),
    ("ALTER TABLE orders DROP CONSTRAINT IF EXISTS some_unknown_check;", []),
    ("ALTER TABLE orders DROP CONSTRAINT orders_user_nn;", [("drop-constraint", 1)]),  # NULLs become possible
    ("ALTER TABLE orders ALTER COLUMN user_id SET NOT NULL;\nALTER TABLE orders DROP CONSTRAINT orders_user_nn;", []),
])
def test_pg_dropping_a_constraint_only_breaks_when_it_guaranteed_not_null(
        sql: str, expected: list[tuple[str, int]]) -> None:
    assert pg(sql)[0] == expected


@pytest.mark.parametrize(("sql", "expected"), [
    ("ALTER TABLE users DROP FOREIGN KEY fk_users_org;", []),
    ("ALTER TABLE users DROP CHECK chk_age;", []),
    ("ALTER TABLE users DROP CONSTRAINT uq_email;", []),
])
def test_mysql_dropping_a_constraint_is_compatible(sql: str, expected: list[tuple[str, int]]) -> None:
    assert my(sql)[0] == expected


def test_set_not_null_after_a_validated_check() -> None:
    recipe = ("ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;\nCOMMIT;\n"
              "ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;\n"
              "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
              "ALTER TABLE users DROP CONSTRAINT users_email_nn;\n")
    # adding the CHECK is what restricts writes; SET NOT NULL and dropping the CHECK then change nothing
    assert pg(recipe, tx_mode="statement")[0] == [("not-null-check", 1)]
    # the CHECK was added in an earlier migration: this file validates it and sets NOT NULL
    later = ("ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;\n"
             "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n")
    found, notes = pg(later, tx_mode="statement")
    assert found == [] and "assumed constraint users_email_nn is a validated CHECK (email IS NOT NULL)" in notes[0]
    # without anything naming a CHECK it is a new restriction and a scan
    assert pg("ALTER TABLE users ALTER COLUMN email SET NOT NULL;")[0] == [("set-not-null", 1),
                                                                           ("set-not-null-scan", 1)]
    # before PostgreSQL 12 the CHECK cannot spare the scan
    assert pg(later, tx_mode="statement", pg_version=11)[0] == [("set-not-null-scan", 2)]


def test_set_not_null_uses_a_check_validated_by_an_earlier_file(tmp_path: Path) -> None:
    (tmp_path / "1.sql").write_text("CREATE TABLE t (id int, c text);\n")
    (tmp_path / "2.sql").write_text("ALTER TABLE t ADD CONSTRAINT t_c_nn CHECK (c IS NOT NULL) NOT VALID;\n")
    (tmp_path / "3.sql").write_text("ALTER TABLE t VALIDATE CONSTRAINT t_c_nn;\n")
    (tmp_path / "4.sql").write_text("ALTER TABLE t ALTER COLUMN c SET NOT NULL;\n"
                                    "ALTER TABLE t DROP CONSTRAINT t_c_nn;\n")
    report = check_paths([tmp_path])
    assert [sorted(f.rule for f in r.active) for r in report.files] == [[], ["not-null-check"], [], []]


@pytest.mark.parametrize(("header", "expected", "note"), [
    ("-- nothing stated\n", [], []),
    ("-- turnout:postgres-version 10\n", [("add-column-rewrite", 2)], ["target postgresql 10 (stated in the file)"]),
    ("-- target: PostgreSQL 10\n", [("add-column-rewrite", 2)], ["target postgresql 10 (stated in the file)"]),
    ("-- turnout:pg-version 11\n", [], ["target postgresql 11 (stated in the file)"]),
    ("-- PostgreSQL 10 would rewrite this, so we need 11\n", [], []),  # prose is not a statement of the target
])
def test_pg_version_stated_in_the_file(header: str, expected: list[tuple[str, int]], note: list[str]) -> None:
    sql = header + "ALTER TABLE users ADD COLUMN flag boolean NOT NULL DEFAULT false;\n"
    assert pg(sql, pg_version=15) == (expected, note)


def test_the_file_wins_over_the_option() -> None:
    sql = "-- turnout:postgres-version 12\nALTER TABLE users VALIDATE CONSTRAINT users_email_nn;\n" \
          "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"
    assert pg(sql, pg_version=11, tx_mode="statement")[0] == []


@pytest.mark.parametrize(("sql", "expected"), [
    # widening: compatible, but a type change copies the table
    ("ALTER TABLE users MODIFY age BIGINT NOT NULL;", [("mysql-table-copy", 1)]),
    ("ALTER TABLE users MODIFY data MEDIUMBLOB NOT NULL;", [("mysql-table-copy", 1)]),
    # VARCHAR growth that keeps the length prefix, ENUM values appended: in place, compatible
    ("ALTER TABLE users MODIFY nick VARCHAR(60);", []),
    ("ALTER TABLE users MODIFY kind ENUM('a', 'b', 'c') NOT NULL;", []),
    # ... across the prefix boundary it copies
    ("ALTER TABLE users MODIFY nick VARCHAR(100);", [("mysql-table-copy", 1)]),
    # narrowing and representation changes break the running version
    ("ALTER TABLE users MODIFY age SMALLINT NOT NULL;", [BREAK, ("mysql-table-copy", 1)]),
    ("ALTER TABLE users MODIFY name VARCHAR(20) NOT NULL;", [BREAK, ("mysql-table-copy", 1)]),
    ("ALTER TABLE users MODIFY kind ENUM('b', 'a') NOT NULL;", [BREAK, ("mysql-table-copy", 1)]),
    ("ALTER TABLE users MODIFY login INT NOT NULL;", [BREAK, ("mysql-table-copy", 1)]),
    # restating without NOT NULL drops it
    ("ALTER TABLE users MODIFY data MEDIUMBLOB;", [("drop-not-null", 1), ("mysql-table-copy", 1)]),
    # ALGORITHM/LOCK honoured: an online clause makes the server refuse a copy instead of blocking
    ("ALTER TABLE users MODIFY nick VARCHAR(60), ALGORITHM=INPLACE, LOCK=NONE;", []),
    ("ALTER TABLE users MODIFY nick VARCHAR(100), ALGORITHM=INPLACE, LOCK=NONE;",
     [("mysql-algorithm-unsupported", 1)]),
    ("ALTER TABLE users MODIFY age BIGINT NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;",
     [("mysql-algorithm-unsupported", 1)]),
    ("ALTER TABLE users ADD COLUMN x INT, ALGORITHM=INSTANT;", []),
    ("ALTER TABLE users MODIFY age BIGINT NOT NULL, ALGORITHM=COPY;",
     [("mysql-table-copy", 1), ("mysql-table-copy", 1)]),
    ("ALTER TABLE users MODIFY nick VARCHAR(60), ALGORITHM=INPLACE, LOCK=SHARED;", [("lock-table", 1)]),
])
def test_mysql_type_changes_and_algorithm(sql: str, expected: list[tuple[str, int]]) -> None:
    assert my(sql)[0] == sorted(expected)


def test_mysql_unknown_definition_assumptions() -> None:
    # an online ALGORITHM clause: the server does it in place or refuses, so nothing blocks or breaks
    found, notes = my("ALTER TABLE t MODIFY c VARCHAR(255) NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;", schema=False)
    assert found == [] and "ALGORITHM clause" in notes[0]
    assert my("ALTER TABLE t MODIFY c MEDIUMTEXT;", schema=False)[0] == [("mysql-table-copy", 1)]
    assert my("ALTER TABLE t MODIFY c CHAR(36) NULL DEFAULT NULL;", schema=False)[0] == [("drop-not-null", 1)]
    assert my("ALTER TABLE t MODIFY c DATE;", schema=False)[0] == [BREAK, ("mysql-table-copy", 1)]


def test_mysql_version_stated_in_the_file() -> None:
    sql = "ALTER TABLE users ADD COLUMN x INT, ALGORITHM=INSTANT;\n"
    assert my("-- turnout:mysql-version 8.0.11\n" + sql)[0] == [("mysql-algorithm-unsupported", 2)]
    assert my("-- turnout:mariadb-version 10.2\n" + sql)[0] == [("mysql-algorithm-unsupported", 2)]
    assert my("-- turnout:mariadb-version 10.6\n" + sql)[0] == []


def test_mysql_new_column_made_not_null_and_backfilled() -> None:
    sql = ("ALTER TABLE users ADD COLUMN uid VARCHAR(64) NOT NULL DEFAULT '';\n"
           "UPDATE users SET uid = UUID() WHERE uid = '';\n"
           "ALTER TABLE users ADD COLUMN t JSON;\nUPDATE users SET t = '[]';\n"
           "ALTER TABLE users CHANGE COLUMN t tags JSON NOT NULL;\n")
    assert my(sql)[0] == [("backfill-unbatched", 2), ("backfill-unbatched", 4), ("set-not-null", 5)]
    joined = ("ALTER TABLE users ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT FALSE;\n"
              "UPDATE users JOIN pins ON users.id = pins.user_id SET users.pinned = TRUE WHERE pins.pinned = 1;\n")
    assert my(joined)[0] == []


def test_mysql_table_rebuilt_without_a_column() -> None:
    sql = ("CREATE TABLE users_new (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL);\n"
           "INSERT INTO users_new SELECT id, name FROM users;\nDROP TABLE users;\nRENAME TABLE users_new TO users;\n")
    found = my(sql)[0]
    assert ("drop-table", 3) in found and (BREAK[0], 4) in found


@pytest.mark.parametrize(("sql", "expected"), [
    ("DROP VIEW active_users;\nCREATE VIEW active_users AS SELECT * FROM users;", []),
    ("DROP VIEW active_users;", [("drop-object", 1)]),
    ("DROP FUNCTION f();\nCREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1';", []),
    ("DROP TRIGGER audit ON users;\nDROP FUNCTION audit;", []),
    ("CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS 'begin return new; end';", []),
    ("ALTER TABLE users ADD COLUMN uid text;\nUPDATE users SET uid = 'x' WHERE uid IS DISTINCT FROM 'x';",
     [("backfill-in-ddl-transaction", 2), ("backfill-unbatched", 2)]),
    ("UPDATE users SET age = 1 WHERE age = 0;", []),
])
def test_pg_replaced_objects_and_backfills(sql: str, expected: list[tuple[str, int]]) -> None:
    assert pg(sql)[0] == expected


def test_pg_dropping_a_trigger_function_created_by_an_earlier_file(tmp_path: Path) -> None:
    (tmp_path / "1.sql").write_text("CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS "
                                    "'begin return new; end';\n")
    (tmp_path / "2.sql").write_text("DROP FUNCTION stamp();\n")
    (tmp_path / "3.sql").write_text("CREATE FUNCTION total() RETURNS int LANGUAGE sql AS 'select 1';\n")
    (tmp_path / "4.sql").write_text("DROP FUNCTION total();\n")
    report = check_paths([tmp_path])
    assert [[f.rule for f in r.active] for r in report.files] == [[], [], [], ["drop-object"]]


@pytest.mark.parametrize(("sql", "expected"), [
    ("-- accounts.title is varchar(50)\nALTER TABLE accounts ALTER COLUMN title TYPE varchar(200);", []),
    ("-- accounts.title is varchar(50)\nALTER TABLE accounts ALTER COLUMN title TYPE varchar(20);",
     [("change-column-type", 2), ("column-type-rewrite", 2)]),
    ("-- balance was integer\nALTER TABLE accounts ALTER COLUMN balance TYPE bigint;", [("column-type-rewrite", 2)]),
    ("-- note: the title is short\nALTER TABLE accounts ALTER COLUMN title TYPE varchar(200);", []),
])
def test_pg_definition_stated_in_a_comment(sql: str, expected: list[tuple[str, int]]) -> None:
    found, notes = pg(sql, schema=False)
    assert found == expected
    assert ("stated in the file" in " ".join(notes)) == ("is varchar" in sql or "was integer" in sql)


def test_mysql_definition_stated_in_a_comment() -> None:
    assert my("-- `nick` is VARCHAR(15) NOT NULL\nALTER TABLE t MODIFY nick VARCHAR(100) NOT NULL;",
              schema=False)[0] == [("mysql-table-copy", 2)]
    assert my("-- t.code is VARCHAR(64) NOT NULL\nALTER TABLE t MODIFY code VARCHAR(16) NOT NULL;",
              schema=False)[0] == [("change-column-type", 2), ("mysql-table-copy", 2)]


@pytest.mark.parametrize(("comment", "expected"), [
    ("-- users_email_nn CHECK (email IS NOT NULL) was validated in 0041\n", []),
    ("-- CHECK (email IS NOT NULL) is valid since the previous migration\n", []),
    ("-- CHECK (email IS NOT NULL) was added NOT VALID last time\n", [("set-not-null", 2), ("set-not-null-scan", 2)]),
    ("-- make email required\n", [("set-not-null", 2), ("set-not-null-scan", 2)]),
])
def test_set_not_null_after_a_check_stated_valid_in_a_comment(comment: str, expected: list[tuple[str, int]]) -> None:
    assert pg(comment + "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n")[0] == expected
