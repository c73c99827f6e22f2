"""Every labelled corpus file gets exactly its expected classes (benchmarks/migrations.py scores the same files)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from turnout.migrate import Checker, CheckOptions
from turnout.migrate.catalog import Catalog
from turnout.migrate.rules_sqlglot import schema_from_sql

CORPUS = Path(__file__).resolve().parents[2] / "benchmarks" / "corpus"
FILES = sorted((CORPUS / "postgresql").glob("*.sql")) + sorted((CORPUS / "mysql").glob("*.sql"))
SCHEMAS = {"postgresql": Catalog.from_sql((CORPUS / "schema" / "postgresql.sql").read_text()),
           "mysql": schema_from_sql((CORPUS / "schema" / "mysql.sql").read_text(), "mysql")}


def test_corpus_is_big_enough() -> None:
    assert len(FILES) >= 60
    assert len([f for f in FILES if f.parent.name == "mysql"]) >= 20


@pytest.mark.parametrize("path", FILES, ids=[f.name for f in FILES])
def test_corpus_file(path: Path) -> None:
    text = path.read_text()
    dialect = path.parent.name
    labels = re.search(r"^-- expect: (.+)$", text, re.M)
    assert labels is not None
    expect = {c.strip() for c in labels.group(1).split(",")} - {"safe"}
    version = re.search(r"^-- pg-version: (\d+)$", text, re.M)
    checker = Checker(CheckOptions(dialect=dialect, pg_version=int(version.group(1)) if version else 15))
    if dialect == "postgresql":
        checker.catalog = SCHEMAS["postgresql"].copy()  # type: ignore[attr-defined]
    else:
        checker.mysql_schema.update(copy.deepcopy(SCHEMAS["mysql"]))  # type: ignore[arg-type]
    report = checker.check_text(text, str(path))
    assert report.error is None
    assert {v.value for v in report.classes} == expect, [(f.rule, f.line) for f in report.active]
