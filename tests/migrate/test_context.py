"""Context linters lack: transactions, target version, DO blocks, inline ignores with reasons."""

from __future__ import annotations

import pytest

from turnout.migrate import Checker, CheckOptions, TxMode, Verdict


def rules(sql: str, **opts: object) -> list[tuple[str, int]]:
    report = Checker(CheckOptions(**opts)).check_text(sql)  # type: ignore[arg-type]
    assert report.error is None, report.error
    return sorted((f.rule, f.line) for f in report.active)


# -- transactions -----------------------------------------------------------------------------------
def test_concurrently_inside_explicit_transaction_fails() -> None:
    sql = "BEGIN;\nCREATE INDEX CONCURRENTLY i ON t (a);\nCOMMIT;\n"
    assert rules(sql) == [("non-transactional-in-transaction", 2)]


@pytest.mark.parametrize(("mode", "expected"), [
    (TxMode.AUTO, []),  # the runner sees CONCURRENTLY and runs the file statement by statement
    (TxMode.STATEMENT, []),
    (TxMode.FILE, [("non-transactional-in-transaction", 2)]),  # Flyway-style: one transaction per file
])
def test_concurrently_without_begin_depends_on_how_files_run(mode: TxMode, expected: list[tuple[str, int]]) -> None:
    sql = "ALTER TABLE t ADD COLUMN a int;\nCREATE INDEX CONCURRENTLY i ON t (a);\n"
    assert rules(sql, tx_mode=mode) == expected


def test_no_transaction_markers() -> None:
    for marker in ("-- turnout:no-transaction", "-- +goose NO TRANSACTION", "-- migrate:up transaction:false"):
        sql = f"{marker}\nALTER TABLE t ADD COLUMN c int;\nUPDATE t SET c = 1 WHERE id < 100;\n"
        assert rules(sql) == [], marker
    assert rules("ALTER TABLE t ADD COLUMN c int;\nUPDATE t SET c = 1 WHERE id < 100;\n") == [
        ("backfill-in-ddl-transaction", 2)]  # auto: the whole file is one transaction


def test_backfill_in_the_alter_transaction() -> None:
    sql = ("BEGIN;\nALTER TABLE orders ADD COLUMN cents bigint;\nCOMMIT;\n"
           "BEGIN;\nUPDATE orders SET cents = 1 WHERE id < 1000;\nCOMMIT;\n")
    assert rules(sql) == []  # separate transactions: fine
    sql = "BEGIN;\nALTER TABLE orders ADD COLUMN cents bigint;\nUPDATE orders SET cents = 1 WHERE id < 1000;\nCOMMIT;"
    [f] = Checker(CheckOptions()).check_text(sql).active
    assert (f.rule, f.line, f.verdict) == ("backfill-in-ddl-transaction", 3, Verdict.LOCK_RISK)
    assert "locked orders" in f.message


def test_validate_in_same_transaction_as_not_valid_add() -> None:
    sql = ("BEGIN;\nALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id) NOT VALID;\n"
           "ALTER TABLE o VALIDATE CONSTRAINT fk;\nCOMMIT;\n")
    assert rules(sql) == [("validate-in-transaction", 3)]
    assert rules(sql.replace("NOT VALID;\n", "NOT VALID;\nCOMMIT;\nBEGIN;\n")) == []


# -- target server version --------------------------------------------------------------------------
@pytest.mark.parametrize(("version", "expected"), [(10, [("add-column-rewrite", 1)]), (11, []), (15, [])])
def test_fast_default_from_11(version: int, expected: list[tuple[str, int]]) -> None:
    assert rules("ALTER TABLE t ADD COLUMN b boolean NOT NULL DEFAULT false;", pg_version=version) == expected


@pytest.mark.parametrize(("version", "expected"), [(11, [("set-not-null-scan", 4)]), (12, [])])
def test_set_not_null_through_valid_check_from_12(version: int, expected: list[tuple[str, int]]) -> None:
    sql = ("ALTER TABLE t ADD CONSTRAINT c_nn CHECK (c IS NOT NULL) NOT VALID;\nCOMMIT;\n"
           "ALTER TABLE t VALIDATE CONSTRAINT c_nn;\nALTER TABLE t ALTER COLUMN c SET NOT NULL;\n"
           "ALTER TABLE t DROP CONSTRAINT c_nn;\n")
    # the NOT NULL restriction arrives with the CHECK (line 1); the scan depends on the version
    assert rules(sql, pg_version=version, tx_mode=TxMode.STATEMENT) == sorted([("not-null-check", 1), *expected])


def test_enum_add_value_in_transaction_before_12() -> None:
    sql = "BEGIN;\nALTER TYPE mood ADD VALUE 'ok';\nCOMMIT;"
    assert rules(sql, pg_version=11) == [("non-transactional-in-transaction", 2)]
    assert rules(sql, pg_version=12) == []


# -- PL/pgSQL -----------------------------------------------------------------------------------------
def test_do_block_static_and_dynamic_sql() -> None:
    sql = ("DO $$\nDECLARE t text;\nBEGIN\n  ALTER TABLE a RENAME COLUMN b TO c;\n"
           "  EXECUTE format('ALTER TABLE %I DROP COLUMN legacy', t);\n"
           "  EXECUTE 'TRUNCATE ' || quote_ident(t);\nEND $$;\n")
    assert rules(sql) == [("drop-column", 5), ("rename-column", 4), ("truncate", 6)]


def test_do_block_loop_backfill_is_one_transaction() -> None:
    sql = "DO $$ BEGIN\nFOR i IN 1..10 LOOP\n  UPDATE t SET a = 1 WHERE id / 1000 = i;\nEND LOOP;\nEND $$;"
    assert rules(sql) == [("backfill-in-one-transaction", 3)]


def test_unresolvable_dynamic_sql_is_a_note() -> None:
    report = Checker(CheckOptions()).check_text("DO $$ BEGIN EXECUTE some_var; END $$;")
    assert report.notes == ["line 1: dynamic SQL in a DO block could not be analysed"]


def test_concurrently_inside_do_block_fails() -> None:
    assert rules("DO $$ BEGIN EXECUTE 'CREATE INDEX CONCURRENTLY i ON t (a)'; END $$;") == [
        ("non-transactional-in-transaction", 1)]


# -- inline ignores -----------------------------------------------------------------------------------
def test_ignore_with_reason_suppresses_next_statement_only() -> None:
    sql = ("-- turnout:ignore drop-column unused since v41, checked with --old-source\n"
           "ALTER TABLE t DROP COLUMN a;\nALTER TABLE t DROP COLUMN b;\n")
    report = Checker(CheckOptions()).check_text(sql)
    assert [(f.rule, f.line, f.ignored) for f in report.findings] == [
        ("drop-column", 2, "unused since v41, checked with --old-source"), ("drop-column", 3, None)]
    assert report.verdict is Verdict.DESTRUCTIVE


def test_ignore_on_the_statement_line_and_several_rules() -> None:
    sql = "ALTER TABLE t RENAME COLUMN a TO b; -- turnout:ignore rename-column, drop-column view keeps old name\n"
    report = Checker(CheckOptions()).check_text(sql)
    assert report.verdict is Verdict.SAFE and report.findings[0].ignored == "view keeps old name"
    assert report.notes == []


def test_ignore_without_reason_is_not_applied() -> None:
    report = Checker(CheckOptions()).check_text("-- turnout:ignore truncate\nTRUNCATE t;\n")
    assert report.verdict is Verdict.DESTRUCTIVE
    assert report.notes == ["line 1: turnout:ignore truncate has no reason, so it was not applied "
                            "(write why after the rule id)"]


def test_ignore_file_and_unknown_or_unused_ignores() -> None:
    sql = ("-- turnout:ignore-file create-index tables are tiny in this service\n"
           "-- turnout:ignore no-such-rule because\n-- turnout:ignore truncate just in case\n"
           "CREATE INDEX a ON t (x);\nCREATE INDEX b ON t (y);\n")
    report = Checker(CheckOptions()).check_text(sql)
    assert report.verdict is Verdict.SAFE
    assert report.notes == ["line 2: turnout:ignore names unknown rule(s) no-such-rule",
                            "line 3: turnout:ignore truncate matched no finding"]


def test_down_sections_are_not_checked() -> None:
    sql = "-- migrate:up\nALTER TABLE t ADD COLUMN a int;\n-- migrate:down\nALTER TABLE t DROP COLUMN b;\n"
    assert rules(sql) == []
