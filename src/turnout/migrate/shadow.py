"""Shadow check: run migrations on a schema-only copy of a real database and measure what they do.

`pg_dump --schema-only` of the source goes into a throwaway database on the same server. Each file
runs statement by statement inside a transaction at `client_min_messages = debug1`; around every
statement we compare `pg_class.relfilenode` (a rewrite), `pg_stat_xact_user_tables.seq_scan` under
the locks this transaction holds (a blocking full scan), and catch the errors and notices a drop
causes (dependent views, CASCADE). The transaction is rolled back, then the file is replayed and
committed so later files see its effects. The copy is dropped at the end. Table sizes are the source's.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from glob import glob
from typing import Any

import psycopg
from pglast import ast
from pglast.stream import RawStream
from psycopg import sql

from turnout.errors import MigrationError
from turnout.migrate.catalog import CHECKS_SQL, COLUMNS_SQL, Catalog
from turnout.migrate.findings import Finding, ObjectRef, SqlError
from turnout.migrate.pg_parse import statements
from turnout.migrate.rules import RULES

_RELS = """
SELECT c.oid, c.oid::regclass::text, c.relkind, c.relfilenode, COALESCE(s.seq_scan, 0)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_xact_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm', 'i') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%'
"""
_LOCKS = ("SELECT relation::regclass::text, mode FROM pg_locks WHERE pid = pg_backend_pid() "
          "AND locktype = 'relation' AND granted")
_SIZES = ("SELECT c.oid::regclass::text, c.reltuples::bigint, pg_total_relation_size(c.oid) FROM pg_class c "
          "WHERE c.relkind IN ('r', 'p', 'm')")
_FUNCS = ("SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
          "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND p.prosrc ~* %s")
_BLOCKING = {"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}


def pg_tool(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise MigrationError(f"the shadow check needs `{name}` (PostgreSQL client tools) on PATH")
    return found


def load_catalog(url: str) -> Catalog:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            return Catalog.from_rows(conn.execute(COLUMNS_SQL).fetchall(), conn.execute(CHECKS_SQL).fetchall())
    except psycopg.Error as exc:
        raise MigrationError(f"cannot read the schema of the database: {str(exc).strip()}") from None


@contextmanager
def shadow_database(url: str) -> Iterator[str]:
    """A schema-only copy of `url` on the same server, dropped afterwards."""
    try:
        dump = subprocess.run([pg_tool("pg_dump"), "--schema-only", "--no-owner", "--no-privileges", f"--dbname={url}"],
                              capture_output=True, text=True, timeout=300, check=True).stdout
        with psycopg.connect(url, autocommit=True) as admin:
            name = f"turnout_shadow_{secrets.token_hex(4)}"
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except subprocess.CalledProcessError as exc:
        raise MigrationError(f"pg_dump --schema-only failed: {exc.stderr.strip()}") from None
    except psycopg.Error as exc:
        raise MigrationError(f"cannot create the shadow database: {exc}".strip()) from None
    shadow = psycopg.conninfo.make_conninfo(url, dbname=name)
    try:
        loaded = subprocess.run([pg_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", f"--dbname={shadow}"],
                                input=dump, capture_output=True, text=True, timeout=300, check=False)
        if loaded.returncode:
            raise MigrationError(f"loading the schema into the shadow database failed: {loaded.stderr.strip()}")
        yield shadow
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@dataclass
class ShadowFile:
    findings: list[Finding] = field(default_factory=list)
    error: SqlError | None = None


@dataclass(frozen=True)
class _Step:
    """pg_class rows before/after one statement, the relations that existed before the file, locks held."""

    before: dict[int, Any]
    after: dict[int, Any]
    start: set[int]
    locks: dict[str, str]
    line: int
    was_concurrent: bool


def _runnable(node: Any, text: str) -> tuple[str | None, bool]:
    """The statement as the shadow runs it inside a transaction, and whether it was made non-concurrent."""
    if isinstance(node, ast.TransactionStmt | ast.VacuumStmt):
        return None, False
    if isinstance(node, ast.IndexStmt | ast.DropStmt | ast.RefreshMatViewStmt) and node.concurrent:
        node.concurrent = False
        return RawStream()(node), True
    if isinstance(node, ast.ReindexStmt) and any(p.defname == "concurrently" for p in node.params or ()):
        node.params = tuple(p for p in node.params or () if p.defname != "concurrently") or None
        return RawStream()(node), True
    return text, False


def _size(sizes: dict[str, tuple[int, int]], rel: str) -> str:
    if rel not in sizes:
        return ""
    rows, size = sizes[rel]
    return f" (source: ~{max(rows, 0):,} rows, {size / 1048576:.1f} MB)"


class Shadow:
    def __init__(self, source_url: str, shadow_url: str) -> None:
        with psycopg.connect(source_url, autocommit=True) as src:
            self.sizes = {r[0]: (int(r[1]), int(r[2])) for r in src.execute(_SIZES).fetchall()}
        self.conn = psycopg.connect(shadow_url, autocommit=True)
        self.notices: list[str] = []
        self.conn.add_notice_handler(lambda d: self.notices.append(d.message_primary or ""))

    def close(self) -> None:
        self.conn.close()

    def run_file(self, text: str, targets: dict[int, tuple[ObjectRef, ...]]) -> ShadowFile:
        out = ShadowFile()
        stmts = statements(text)
        failed: set[int] = set()
        with self.conn.transaction(force_rollback=True):
            self.conn.execute("SET LOCAL client_min_messages = debug1")
            start = {r[0] for r in self.conn.execute(_RELS).fetchall()}
            for i, st in enumerate(stmts):
                runnable, was_concurrent = _runnable(st.node, st.text)
                if runnable is None:
                    continue
                before = {r[0]: r for r in self.conn.execute(_RELS).fetchall()}
                self.notices.clear()
                try:
                    with self.conn.transaction():
                        self.conn.execute(runnable)
                except psycopg.Error as exc:
                    failed.add(i)
                    self._failure(exc, st.line, out)
                    if out.error:
                        return out
                    continue
                after = {r[0]: r for r in self.conn.execute(_RELS).fetchall()}
                locks: dict[str, str] = dict(self.conn.execute(_LOCKS).fetchall())
                self._measure(_Step(before, after, start, locks, st.line, was_concurrent), out)
                for ref in targets.get(st.line, ()):
                    self._functions(ref, st.line, out)
        with self.conn.transaction():  # replay for real so the next file sees this one's schema
            for i, st in enumerate(statements(text)):
                runnable, _ = _runnable(st.node, st.text)
                if runnable is None or i in failed:
                    continue
                try:
                    with self.conn.transaction():
                        self.conn.execute(runnable)
                except psycopg.Error:
                    continue
        return out

    def _failure(self, exc: psycopg.Error, line: int, out: ShadowFile) -> None:
        diag = exc.diag
        if isinstance(exc, psycopg.errors.DependentObjectsStillExist):
            detail = (diag.message_detail or "").replace("\n", "; ")
            out.findings.append(RULES["shadow-dependency"].finding(
                line, detail=f"Fails on the current schema: {diag.message_primary} ({detail})."))
        else:
            out.error = SqlError(line, 1, f"fails on a schema-only copy of the database: {diag.message_primary}")

    def _measure(self, s: _Step, out: ShadowFile) -> None:
        for oid, (_, rel, kind, node, scans) in s.after.items():
            if oid not in s.start or oid not in s.before:
                continue
            lock = s.locks.get(rel, "no lock")
            if node != s.before[oid][3] and kind in "rpm":
                out.findings.append(RULES["shadow-rewrite"].finding(
                    s.line, detail=f"Rewrote table {rel}{_size(self.sizes, rel)} while holding {lock}."))
            elif scans > s.before[oid][4] and lock in _BLOCKING and not s.was_concurrent:
                out.findings.append(RULES["shadow-scan"].finding(
                    s.line, detail=f"Scanned all of {rel}{_size(self.sizes, rel)} while holding {lock}, which "
                                   "blocks writes."))
        for notice in self.notices:
            if m := re.match(r"drop cascades to (.+)", notice):
                out.findings.append(RULES["shadow-cascade"].finding(
                    s.line, detail=f"CASCADE also drops {m.group(1)}, which the running version may use."))

    def _functions(self, ref: ObjectRef, line: int, out: ShadowFile) -> None:
        name = (ref.column or ref.table).rsplit(".", 1)[-1].strip('"')
        for (func,) in self.conn.execute(_FUNCS, (rf"\m{re.escape(name)}\M",)).fetchall():
            out.findings.append(RULES["shadow-function-reference"].finding(
                line, detail=f"Function {func} still refers to {ref.label}; it fails when next called."))


def shadow_check(url: str, files: list[tuple[str, str, dict[int, tuple[ObjectRef, ...]]]]) -> dict[str, ShadowFile]:
    """Run each (path, sql, targets) in order on a fresh schema-only copy of `url`."""
    results: dict[str, ShadowFile] = {}
    with shadow_database(url) as shadow_url:
        runner = Shadow(url, shadow_url)
        try:
            for path, text, targets in files:
                results[path] = runner.run_file(text, targets)
        finally:
            runner.close()
    return results
