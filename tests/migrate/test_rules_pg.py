"""PostgreSQL rules: table tests with exact expectations (rule ids and lines), no database needed."""

from __future__ import annotations

import pytest

from turnout.migrate import Checker, CheckOptions, Verdict
from turnout.migrate.catalog import Catalog

SCHEMA = """
CREATE TABLE users (id bigserial PRIMARY KEY, email varchar(255) NOT NULL, name varchar(50), age int,
                    status text DEFAULT 'x', settings json, seen timestamp, price numeric(10,2), code char(3));
CREATE TABLE orders (id bigserial PRIMARY KEY, user_id bigint, note text,
                     CONSTRAINT orders_note_nn CHECK (note IS NOT NULL));
"""


def findings(sql: str, **opts: object) -> list[tuple[str, int]]:
    checker = Checker(CheckOptions(**opts))  # type: ignore[arg-type]
    checker.catalog = Catalog.from_sql(SCHEMA)
    report = checker.check_text(sql)
    assert report.error is None, report.error
    return sorted((f.rule, f.line) for f in report.active)


CASES = [
    # additions
    ("ALTER TABLE users ADD COLUMN nick text;", []),
    ("ALTER TABLE users ADD COLUMN ok boolean NOT NULL DEFAULT false;", []),
    ("ALTER TABLE users ADD COLUMN at timestamptz NOT NULL DEFAULT now();", []),
    ("ALTER TABLE users ADD COLUMN at timestamptz DEFAULT CURRENT_TIMESTAMP;", []),
    ("ALTER TABLE users ADD COLUMN t text NOT NULL;", [("add-column-required", 1)]),
    ("ALTER TABLE users ADD COLUMN u uuid DEFAULT gen_random_uuid();", [("add-column-rewrite", 1)]),
    ("ALTER TABLE users ADD COLUMN r float DEFAULT random() * 10;", [("add-column-rewrite", 1)]),
    ("ALTER TABLE users ADD COLUMN n bigserial;", [("add-column-rewrite", 1)]),
    ("ALTER TABLE users ADD COLUMN n int GENERATED ALWAYS AS IDENTITY;", [("add-column-rewrite", 1)]),
    ("ALTER TABLE users ADD COLUMN d int GENERATED ALWAYS AS (age * 2) STORED;", [("add-column-rewrite", 1)]),
    ("ALTER TABLE users ADD COLUMN c int CHECK (c > 0);", [("add-column-scan", 1)]),
    ("ALTER TABLE users ADD COLUMN o bigint REFERENCES orders (id);", [("add-foreign-key", 1)]),
    ("ALTER TABLE users ADD COLUMN k text UNIQUE;", [("add-unique-constraint", 1)]),
    ("CREATE TABLE t (id int PRIMARY KEY, u int REFERENCES users (id));\nCREATE INDEX t_u ON t (u);\n"
     "ALTER TABLE t ADD COLUMN x int NOT NULL;\nALTER TABLE t RENAME COLUMN x TO y;\nDROP TABLE t;", []),
    # renames and moves
    ("ALTER TABLE users RENAME COLUMN name TO full_name;", [("rename-column", 1)]),
    ("ALTER TABLE users RENAME TO people;", [("rename-table", 1)]),
    ("BEGIN;\nALTER TABLE users RENAME TO people;\nCREATE VIEW users AS SELECT * FROM people;\nCOMMIT;", []),
    ("ALTER VIEW v RENAME TO w;", [("rename-object", 1)]),
    ("ALTER INDEX users_pkey RENAME TO users_id_pkey;", []),
    ("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';", [("rename-object", 1)]),
    ("ALTER TABLE users SET SCHEMA archive;", [("set-schema", 1)]),
    # type changes, judged against the catalog
    ("ALTER TABLE users ALTER COLUMN name TYPE varchar(80);", []),
    ("ALTER TABLE users ALTER COLUMN name TYPE text;", []),
    ("ALTER TABLE users ALTER COLUMN price TYPE numeric(14,2);", []),
    ("ALTER TABLE users ALTER COLUMN age TYPE bigint;", [("column-type-rewrite", 1)]),
    ("ALTER TABLE users ALTER COLUMN settings TYPE jsonb USING settings::jsonb;", [("column-type-rewrite", 1)]),
    ("ALTER TABLE users ALTER COLUMN name TYPE varchar(20);", [("change-column-type", 1), ("column-type-rewrite", 1)]),
    ("ALTER TABLE users ALTER COLUMN status TYPE int USING status::int;",
     [("change-column-type", 1), ("column-type-rewrite", 1)]),
    # old type unknown: without USING the change goes through an assignment cast, so a widening is assumed
    ("ALTER TABLE other ALTER COLUMN x TYPE text;", []),
    ("ALTER TABLE other ALTER COLUMN x TYPE bigint;", [("column-type-rewrite", 1)]),
    ("ALTER TABLE other ALTER COLUMN x TYPE int USING x::int;",
     [("change-column-type", 1), ("column-type-rewrite", 1)]),
    ("ALTER TABLE other ALTER COLUMN x TYPE date;", [("change-column-type", 1), ("column-type-rewrite", 1)]),
    # NOT NULL, defaults, constraints
    ("ALTER TABLE users ALTER COLUMN age SET NOT NULL;", [("set-not-null", 1), ("set-not-null-scan", 1)]),
    ("ALTER TABLE users ALTER COLUMN email SET NOT NULL;", []),  # already NOT NULL
    ("ALTER TABLE orders ALTER COLUMN note SET NOT NULL;\nALTER TABLE orders DROP CONSTRAINT orders_note_nn;", []),
    ("ALTER TABLE users ADD CONSTRAINT age_nn CHECK (age IS NOT NULL) NOT VALID;", [("not-null-check", 1)]),
    ("ALTER TABLE users ALTER COLUMN email DROP NOT NULL;", [("drop-not-null", 1)]),
    ("ALTER TABLE users ALTER COLUMN status DROP DEFAULT;", [("drop-default", 1)]),
    ("ALTER TABLE users ALTER COLUMN status SET DEFAULT 'y';", []),
    ("ALTER TABLE users ADD COLUMN f boolean DEFAULT false NOT NULL;\nALTER TABLE users ALTER COLUMN f DROP DEFAULT;",
     [("drop-default", 2)]),
    ("ALTER TABLE users ADD COLUMN g boolean DEFAULT false;\nALTER TABLE users ALTER COLUMN g DROP DEFAULT;", []),
    ("ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0);", [("add-check-constraint", 1)]),
    ("ALTER TABLE users ADD CONSTRAINT age_pos CHECK (age > 0) NOT VALID;", []),
    ("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);", [("add-foreign-key", 1)]),
    ("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;", []),
    ("ALTER TABLE users ADD CONSTRAINT uq UNIQUE (email);", [("add-unique-constraint", 1)]),
    ("ALTER TABLE users ADD CONSTRAINT uq UNIQUE USING INDEX users_email_uidx;", []),
    ("ALTER TABLE users ADD CONSTRAINT ex EXCLUDE USING gist (age WITH =);", [("add-exclusion-constraint", 1)]),
    ("ALTER TABLE orders DROP CONSTRAINT orders_user_fk;", []),  # fewer restrictions: old code keeps working
    ("ALTER TABLE orders DROP CONSTRAINT orders_note_nn;", [("drop-constraint", 1)]),  # NULLs become possible
    ("ALTER TABLE users ALTER COLUMN id DROP IDENTITY;", [("drop-generated", 1)]),
    ("ALTER DOMAIN email ADD CONSTRAINT at CHECK (VALUE LIKE '%@%');", [("domain-constraint", 1)]),
    # drops and data loss
    ("ALTER TABLE users DROP COLUMN age;", [("drop-column", 1)]),
    ("DROP TABLE IF EXISTS users, orders CASCADE;", [("drop-table", 1), ("drop-table", 1)]),
    ("DROP SCHEMA legacy CASCADE;", [("drop-schema", 1)]),
    ("DROP VIEW v;\nDROP FUNCTION f(int);\nDROP TYPE mood;\nDROP SEQUENCE s;",
     [("drop-object", 1), ("drop-object", 2), ("drop-object", 3), ("drop-object", 4)]),
    ("DROP TRIGGER tr ON users;", []),
    ("TRUNCATE users;", [("truncate", 1)]),
    ("DELETE FROM users;", [("delete-all", 1)]),
    ("DELETE FROM users WHERE id < 10;", []),
    # locks
    ("CREATE INDEX i ON users (age);", [("create-index", 1)]),
    ("CREATE INDEX CONCURRENTLY i ON users (age);", []),
    ("DROP INDEX i;", [("drop-index", 1)]),
    ("DROP INDEX CONCURRENTLY i;", []),
    ("REINDEX TABLE users;", [("reindex", 1)]),
    ("REINDEX TABLE CONCURRENTLY users;", []),
    ("VACUUM FULL users;", [("table-rewrite", 1)]),
    ("VACUUM ANALYZE users;", []),
    ("CLUSTER users USING users_pkey;", [("table-rewrite", 1)]),
    ("ALTER TABLE users SET UNLOGGED;", [("table-rewrite", 1)]),
    ("REFRESH MATERIALIZED VIEW mv;", [("refresh-materialized-view", 1)]),
    ("REFRESH MATERIALIZED VIEW CONCURRENTLY mv;", []),
    ("ALTER TABLE ev DETACH PARTITION ev_2024;", [("partition-lock", 1)]),
    ("ALTER TABLE ev DETACH PARTITION ev_2024 CONCURRENTLY;", []),
    ("LOCK TABLE users IN SHARE MODE;", [("lock-table", 1)]),
    ("LOCK TABLE users IN ROW EXCLUSIVE MODE;", []),
    # backfills
    ("UPDATE users SET status = 'a';", [("backfill-unbatched", 1)]),
    ("UPDATE users SET status = 'a' WHERE status IS NULL;", [("backfill-unbatched", 1)]),
    ("UPDATE users SET status = 'a' WHERE id BETWEEN 1 AND 1000;", []),
    ("UPDATE alembic_version SET version_num = 'b';", []),
    # harmless statements
    ("CREATE VIEW v AS SELECT 1;\nCOMMENT ON TABLE users IS 'x';\nGRANT SELECT ON users TO r;\n"
     "SET lock_timeout = '1s';\nINSERT INTO users (email) VALUES ('a');\n"
     "CREATE EXTENSION IF NOT EXISTS pgcrypto;\nANALYZE users;", []),
    ("CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DROP TABLE users; END $$;", []),
]


@pytest.mark.parametrize(("sql", "expected"), CASES, ids=[c[0][:60] for c in CASES])
def test_rules(sql: str, expected: list[tuple[str, int]]) -> None:
    assert findings(sql) == sorted(expected)


def test_every_statement_is_classified() -> None:
    checker = Checker(CheckOptions())
    report = checker.check_text("SELECT 1;\n\nALTER TABLE a DROP COLUMN b;\nCREATE INDEX i ON a (c);\n")
    assert [(s.line, s.kind, s.verdict) for s in report.statements] == [
        (1, "SelectStmt", Verdict.SAFE), (3, "AlterTableStmt", Verdict.DESTRUCTIVE),
        (4, "IndexStmt", Verdict.LOCK_RISK)]
    assert report.verdict is Verdict.DESTRUCTIVE


def test_finding_carries_reason_alternative_phase_and_lock_timeout() -> None:
    checker = Checker(CheckOptions())
    [f] = checker.check_text('ALTER TABLE "Users" RENAME COLUMN email TO mail;').active
    assert f.message == 'Renaming "Users".email to mail breaks the running version, which still uses email.'
    assert f.phase.value == "contract" and f.lock_timeout == "2s"
    assert f.safe_alternative[0] == 'expand: ADD COLUMN mail (nullable, same type) to "Users"'
    assert f.safe_alternative[-1] == "contract: DROP COLUMN email once the old color can no longer be rolled back to"


def test_multi_statement_lines_and_comments() -> None:
    sql = "-- header\n/* block\n comment */\nALTER TABLE users ADD COLUMN a int;\n\n  DROP TABLE orders; -- bye\n"
    assert findings(sql) == [("drop-table", 6)]


def test_files_build_on_each_other() -> None:
    checker = Checker(CheckOptions())
    checker.check_text("CREATE TABLE t (id int, name varchar(20));")
    assert checker.check_text("ALTER TABLE t ALTER COLUMN name TYPE varchar(40);").active == []
