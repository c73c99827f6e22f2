"""MySQL and SQLite rules (sqlglot): table tests with exact expectations."""

from __future__ import annotations

import pytest

from turnout.migrate import Checker, CheckOptions
from turnout.migrate.rules_sqlglot import schema_from_sql

SCHEMA = """
CREATE TABLE users (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, email VARCHAR(191) NOT NULL,
  name VARCHAR(50) NULL, phone VARCHAR(20) NULL, age INT NULL, note TEXT NULL, status VARCHAR(16) NOT NULL);
"""


def findings(sql: str, dialect: str = "mysql") -> list[tuple[str, int]]:
    report = Checker(CheckOptions(dialect=dialect)).check_text(sql)
    assert report.error is None, report.error
    return sorted((f.rule, f.line) for f in report.active)


def with_schema(sql: str) -> list[tuple[str, int]]:
    checker = Checker(CheckOptions(dialect="mysql"))
    checker.mysql_schema.update(schema_from_sql(SCHEMA, "mysql"))
    report = checker.check_text(sql)
    assert report.error is None, report.error
    return sorted((f.rule, f.line) for f in report.active)


CASES = [
    ("ALTER TABLE `users` ADD COLUMN `nick` VARCHAR(50) NULL;", []),
    ("alter table `users` add `secret` text null after `email`;", []),
    ("ALTER TABLE users ADD COLUMN ok TINYINT(1) NOT NULL DEFAULT 0, ALGORITHM=INSTANT;", []),
    ("ALTER TABLE users ADD COLUMN tenant BIGINT NOT NULL;", [("add-column-required", 1)]),
    ("ALTER TABLE users ADD COLUMN pid CHAR(36) DEFAULT (UUID());", [("mysql-table-copy", 1)]),
    ("ALTER TABLE t ADD COLUMN id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY;", [("mysql-table-copy", 1)]),
    ("ALTER TABLE users RENAME COLUMN name TO full_name;", [("rename-column", 1)]),
    ("ALTER TABLE users RENAME TO people;", [("rename-table", 1)]),
    ("RENAME TABLE users TO people;", [("rename-table", 1)]),
    ("RENAME TABLE s TO s_old, s_new TO s;", []),
    ("ALTER TABLE users DROP COLUMN age;", [("drop-column", 1)]),
    ("DROP TABLE IF EXISTS `users`;", [("drop-table", 1)]),
    ("DROP VIEW v;", [("drop-object", 1)]),
    ("TRUNCATE TABLE users;", [("truncate", 1)]),
    ("DELETE FROM users;", [("delete-all", 1)]),
    ("UPDATE users SET status = 'a';", [("backfill-unbatched", 1)]),
    ("UPDATE users SET status = 'a' WHERE id < 1000;", []),
    ("ALTER TABLE users ADD INDEX i (age), ALGORITHM=INPLACE, LOCK=NONE;", []),
    ("CREATE INDEX i ON users (age);", []),
    ("ALTER TABLE users ADD FULLTEXT INDEX ft (note);", [("mysql-table-copy", 1)]),
    ("ALTER TABLE users ADD CONSTRAINT fk FOREIGN KEY (org) REFERENCES orgs (id);", [("add-foreign-key", 1)]),
    ("ALTER TABLE users ADD CONSTRAINT ck CHECK (age > 0);", [("add-check-constraint", 1)]),
    ("ALTER TABLE users DROP FOREIGN KEY fk;", []),
    ("ALTER TABLE users ADD COLUMN x INT, ALGORITHM=COPY;", [("mysql-table-copy", 1)]),
    ("ALTER TABLE users ADD COLUMN x INT, LOCK=SHARED;", [("lock-table", 1)]),
    ("ALTER TABLE users CONVERT TO CHARACTER SET utf8mb4;", [("mysql-table-copy", 1)]),
    ("ALTER TABLE users ALTER COLUMN status DROP DEFAULT;", [("drop-default", 1)]),
    ("ALTER TABLE users ALTER COLUMN status SET DEFAULT 'x';", []),
    ("ALTER TABLE users DROP INDEX i, ADD UNIQUE INDEX u (email);", []),
    ("LOCK TABLES users WRITE;", [("lock-table", 1)]),
    ("CREATE TABLE t (id INT PRIMARY KEY);\nALTER TABLE t DROP COLUMN id;\nDROP TABLE t;", []),
    ("SET SESSION lock_wait_timeout = 5;\nSTART TRANSACTION;\nINSERT INTO users (email) VALUES ('a');\nCOMMIT;", []),
    ("ALTER TABLE users MODIFY COLUMN age BIGINT NULL;",  # old definition unknown: a widening is assumed
     [("mysql-table-copy", 1)]),
]


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_mysql_rules(sql: str, expected: list[tuple[str, int]]) -> None:
    assert findings(sql) == sorted(expected)


SCHEMA_CASES = [
    ("ALTER TABLE users MODIFY COLUMN age BIGINT NULL;", [("mysql-table-copy", 1)]),
    ("ALTER TABLE users MODIFY COLUMN phone VARCHAR(40) NULL;", []),
    ("ALTER TABLE users MODIFY COLUMN name VARCHAR(100) NULL;", [("mysql-table-copy", 1)]),  # length prefix grows
    ("ALTER TABLE users MODIFY COLUMN note VARCHAR(50) NULL;", [("change-column-type", 1), ("mysql-table-copy", 1)]),
    ("ALTER TABLE users MODIFY COLUMN phone VARCHAR(20) NOT NULL;", [("set-not-null", 1)]),
    ("ALTER TABLE users MODIFY COLUMN email VARCHAR(191) NULL;", [("drop-not-null", 1)]),
    ("ALTER TABLE users CHANGE COLUMN `name` `full_name` VARCHAR(50) NULL;", [("rename-column", 1)]),
    ("ALTER TABLE users MODIFY status ENUM('a','b') NOT NULL;", [("change-column-type", 1), ("mysql-table-copy", 1)]),
]


@pytest.mark.parametrize(("sql", "expected"), SCHEMA_CASES, ids=[c[0][:60] for c in SCHEMA_CASES])
def test_mysql_rules_with_schema(sql: str, expected: list[tuple[str, int]]) -> None:
    assert with_schema(sql) == sorted(expected)


def test_delimiter_blocks_and_lines() -> None:
    sql = ("ALTER TABLE users ADD COLUMN u VARCHAR(64) NULL;\n\nDELIMITER //\n"
           "CREATE TRIGGER t BEFORE INSERT ON users FOR EACH ROW\nBEGIN\n  SET NEW.u = NEW.email;\nEND//\n"
           "DELIMITER ;\nALTER TABLE users DROP COLUMN age;\n")
    assert findings(sql) == [("drop-column", 9)]


def test_unparseable_alter_is_an_error_not_a_pass() -> None:
    report = Checker(CheckOptions(dialect="mysql")).check_text("SELECT 1;\nALTER TABLE t ADD COLUMN ;\n")
    assert report.error is not None and report.error.line == 2
    assert "will not guess" in report.error.message
    report = Checker(CheckOptions(dialect="mysql")).check_text("CREATE TABLE (id int);")
    assert report.error is not None and report.error.line == 1


@pytest.mark.parametrize(("sql", "expected"), [
    ("ALTER TABLE users RENAME COLUMN a TO b;", [("rename-column", 1)]),
    ("ALTER TABLE users DROP COLUMN a;", [("drop-column", 1)]),
    ("ALTER TABLE users ADD COLUMN a INTEGER NOT NULL;", [("add-column-required", 1)]),
    ("ALTER TABLE users ADD COLUMN a INTEGER NOT NULL DEFAULT 0;", []),
    ("CREATE INDEX i ON users (a);", [("create-index", 1)]),  # SQLite blocks all writers while it builds
])
def test_sqlite_rules(sql: str, expected: list[tuple[str, int]]) -> None:
    assert findings(sql, "sqlite") == expected


# Found by fuzzing the checker with mutated corpus files: sqlglot accepts some broken SQL as odd trees, or
# fails with other exceptions than ParseError. Each is a located error (never a crash, never a pass).
@pytest.mark.parametrize(("sql", "message"), [
    (" DELETE $$", "cannot analyse this Delete statement"),
    ("ALTER TABLE orders ADD INDEX i (user_id),  DEFAULT ALGORITHM", "cannot parse this statement"),
    ("SET SESSION lock_wait_timeout = ``;", "cannot parse this statement"),
    ("ALTER TABLE order_items ADD TYPE CONSTRAINT fk_items_order;", "column TYPE has no type"),
])
def test_broken_sql_sqlglot_reads_oddly_is_an_error(sql: str, message: str) -> None:
    report = Checker(CheckOptions(dialect="mysql")).check_text(sql)
    assert report.error is not None and message in report.error.message, report.error
    assert report.error.line == 1


def test_a_stray_word_after_a_column_type_is_not_a_constraint() -> None:
    # sqlglot reads "CONSTRAINT NULL" after a type as a bare identifier among the constraints
    for size, expected in (("40", []), ("400", [("mysql-table-copy", 1)])):
        plain = with_schema(f"ALTER TABLE users MODIFY COLUMN phone VARCHAR({size});")
        assert plain == expected
        assert with_schema(f"ALTER TABLE users MODIFY COLUMN phone VARCHAR({size}) CONSTRAINT NULL;") == plain
