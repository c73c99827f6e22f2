"""Shadow check on MySQL/MariaDB: run migrations on a schema-only copy and ask the server what it does.

PostgreSQL's shadow (shadow.py) watches catalog changes. InnoDB can simply be asked: a statement
is retried with ever weaker online guarantees on the copy, and the first one the server accepts
says what it would do in production, where it takes the same path:

    ALGORITHM=INSTANT               metadata only
    ALGORITHM=INPLACE, LOCK=NONE    in place, reads and writes continue (maybe a rebuild)
    ALGORITHM=INPLACE, LOCK=SHARED  in place, writes blocked for the whole operation
    ALGORITHM=COPY                  the table is copied, writes blocked (reads continue)
    as written                      what is left (LOCK=EXCLUSIVE: reads blocked too)

Refusals cost nothing (the server checks before it starts), so each statement runs once. A
statement that states its own ALGORITHM/LOCK runs as written; if the server refuses it, the
migration would fail in production. Whether the table was rebuilt is read from InnoDB's table id.
Every ALTER also takes an exclusive metadata lock at its start and end, which queues behind open
transactions: that is what `lock_wait_timeout` bounds. DDL commits on its own in MySQL, so the copy
simply accumulates the files in order; it is dropped at the end.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from turnout.errors import MigrationError
from turnout.migrate.findings import Finding, SqlError
from turnout.migrate.mysql_types import MyColumn
from turnout.migrate.rules import RULES
from turnout.migrate.versions import ServerVersion

SCHEMES = ("mysql", "mariadb", "mysql+pymysql")
_UNSUPPORTED = {1845, 1846}  # ER_ALTER_OPERATION_NOT_SUPPORTED(_REASON)
_PROBES = [("ALGORITHM=INSTANT", "instant"), ("ALGORITHM=INPLACE, LOCK=NONE", "online"),
           ("ALGORITHM=INPLACE, LOCK=SHARED", "shared"), ("ALGORITHM=COPY", "copy")]
_STATED = re.compile(r"\b(ALGORITHM|LOCK)\s*=", re.IGNORECASE)
_DDL = re.compile(r"^\s*(ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE|CREATE\s+(?:UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX|"
                  r"DROP\s+INDEX)\b", re.IGNORECASE)
_TABLE = re.compile(r"^\s*(?:ALTER\s+(?:ONLINE\s+|IGNORE\s+)*TABLE\s+|(?:CREATE|DROP)\s+.*?\bON\s+)`?([\w$]+)`?"
                    r"(?:\s*\.\s*`?([\w$]+)`?)?", re.IGNORECASE | re.DOTALL)
_LEVEL_TEXT = {"shared": "in place but with LOCK=SHARED: writes to {t} wait until it finishes",
               "copy": "only with ALGORITHM=COPY, copying {t}: writes wait until the copy finishes",
               "exclusive": "only with LOCK=EXCLUSIVE: reads and writes of {t} wait until it finishes"}


def is_mysql_url(url: str) -> bool:
    return urlsplit(url).scheme.lower() in SCHEMES


def _params(url: str) -> dict[str, Any]:
    u = urlsplit(url)
    return {"host": u.hostname or "127.0.0.1", "port": u.port or 3306, "user": unquote(u.username or "root"),
            "password": unquote(u.password or ""), "database": u.path.lstrip("/") or None}


def _connect(url: str, database: str | None = None) -> Any:
    import pymysql

    params = _params(url)
    if database is not None:
        params["database"] = database
    try:
        return pymysql.connect(autocommit=True, connect_timeout=10, **params)
    except pymysql.MySQLError as exc:
        raise MigrationError(f"cannot connect to the MySQL database: {exc}") from None


def server_version(text: str) -> ServerVersion:
    nums = tuple(int(x) for x in re.findall(r"\d+", text.split("-", maxsplit=1)[0])[:3])
    return ServerVersion("mariadb" if "mariadb" in text.lower() else "mysql", nums or (8, 0))


def load_schema(url: str) -> tuple[dict[str, dict[str, MyColumn]], ServerVersion]:
    """Column definitions of the live database (the static rules judge type changes with them)."""
    conn = _connect(url)
    try:
        cur = conn.cursor()
        cur.execute("SELECT VERSION()")
        version = server_version(cur.fetchone()[0])
        cur.execute("SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE, c.COLLATION_NAME, "
                    "c.COLUMN_DEFAULT IS NOT NULL FROM information_schema.COLUMNS c JOIN information_schema.TABLES t "
                    "ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME "
                    "WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' ORDER BY c.ORDINAL_POSITION")
        schema: dict[str, dict[str, MyColumn]] = {}
        for table, col, typ, nullable, collation, has_default in cur.fetchall():
            schema.setdefault(table, {})[col] = MyColumn(_normal_type(typ), nullable == "NO", collation,
                                                         bool(has_default))
        return schema, version
    finally:
        conn.close()


def _normal_type(column_type: str) -> str:
    """information_schema's `int(11) unsigned` -> sqlglot's `INT UNSIGNED` spelling."""
    t = column_type.upper()
    t = re.sub(r"^(TINYINT|SMALLINT|MEDIUMINT|INT|BIGINT)\(\d+\)", r"\1", t)
    return t.replace(",", ", ")


@dataclass
class ShadowFile:
    findings: list[Finding] = field(default_factory=list)
    error: SqlError | None = None
    notes: list[str] = field(default_factory=list)


@contextmanager
def shadow_database(url: str) -> Iterator[tuple[Any, dict[str, tuple[int, int]]]]:
    """A schema-only copy of the database of `url` on the same server (a cursor in it), and table sizes."""
    import pymysql

    src = _connect(url)
    name = f"turnout_shadow_{secrets.token_hex(4)}"
    try:
        cur = src.cursor()
        cur.execute("SELECT TABLE_NAME, COALESCE(TABLE_ROWS, 0), COALESCE(DATA_LENGTH + INDEX_LENGTH, 0) "
                    "FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'")
        sizes = {t: (int(r), int(b)) for t, r, b in cur.fetchall()}
        creates = []
        for table in sorted(sizes):
            cur.execute(f"SHOW CREATE TABLE `{table}`")
            creates.append(cur.fetchone()[1])
        cur.execute(f"CREATE DATABASE `{name}`")
    except pymysql.MySQLError as exc:
        src.close()
        raise MigrationError(f"cannot create the shadow database: {exc}") from None
    try:
        shadow = _connect(url, name)
        cur = shadow.cursor()
        cur.execute("SET SESSION foreign_key_checks = 0")
        for ddl in creates:
            cur.execute(ddl)
        cur.execute("SET SESSION foreign_key_checks = 1")
        try:
            yield cur, sizes
        finally:
            shadow.close()
    finally:
        src.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        src.close()


class MyShadow:
    def __init__(self, cur: Any, sizes: dict[str, tuple[int, int]]) -> None:
        self.cur, self.sizes = cur, sizes
        self.cur.execute("SELECT DATABASE(), VERSION()")
        self.db, version = self.cur.fetchone()
        self.ids = "INNODB_SYS_TABLES" if "mariadb" in version.lower() else "INNODB_TABLES"

    def tables(self) -> set[str]:
        self.cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        return {r[0] for r in self.cur.fetchall()}

    def table_id(self, table: str) -> int | None:
        self.cur.execute(f"SELECT TABLE_ID FROM information_schema.{self.ids} WHERE NAME = %s", (f"{self.db}/{table}",))
        row = self.cur.fetchone()
        return int(row[0]) if row else None

    def run_file(self, statements: list[tuple[int, str]]) -> ShadowFile:
        import pymysql

        out = ShadowFile()
        existing = self.tables()  # tables created by this file are new and empty: nothing to measure
        for line, sql in statements:
            m = _TABLE.match(sql) if _DDL.match(sql) else None
            table = (m.group(2) or m.group(1)) if m else None
            try:
                if table is None or table not in existing:
                    self.cur.execute(sql)
                else:
                    self._measure(line, sql, table, out)
            except pymysql.MySQLError as exc:
                out.error = SqlError(line, 1, f"fails on a schema-only copy of the database: {exc.args[-1]}")
                return out
        return out

    def _measure(self, line: int, sql: str, table: str, out: ShadowFile) -> None:
        import pymysql

        before = self.table_id(table)
        size = _size(self.sizes, table)
        if _STATED.search(sql):
            try:
                self.cur.execute(sql)
            except pymysql.MySQLError as exc:
                if exc.args[0] not in _UNSUPPORTED:
                    raise
                out.findings.append(RULES["shadow-refused"].finding(
                    line, detail=f"The server refuses this statement's ALGORITHM/LOCK clause on {table}{size}: "
                                 f"{exc.args[-1]}. The migration fails as written."))
            else:
                self._rebuilt(line, table, before, out)
            return
        base = sql.strip().rstrip(";")
        alter = base.upper().startswith("ALTER")
        for clause, level in _PROBES:
            text = f"{base}, {clause}" if alter else f"{base} {clause.replace(',', '')}"
            try:
                self.cur.execute(text)
            except pymysql.MySQLError as exc:
                if exc.args[0] in _UNSUPPORTED:
                    continue
                if exc.args[0] == 1064:  # this statement takes no ALGORITHM clause: run it as written
                    break
                raise
            self._report(line, table, level, size, out)
            if level == "online":  # a rebuild that reads and writes survive is worth knowing, not a finding
                self._rebuilt(line, table, before, out)
            return
        self.cur.execute(sql)
        self._report(line, table, "exclusive", size, out)

    def _report(self, line: int, table: str, level: str, size: str, out: ShadowFile) -> None:
        if level in _LEVEL_TEXT:
            out.findings.append(RULES["shadow-rebuild"].finding(
                line, detail=f"The server runs this {_LEVEL_TEXT[level].format(t=table + size)}."))

    def _rebuilt(self, line: int, table: str, before: int | None, out: ShadowFile) -> None:
        after = self.table_id(table)
        if before is not None and after is not None and after != before:
            out.notes.append(f"line {line}: the server rebuilt {table} (new InnoDB table id)")


def _size(sizes: dict[str, tuple[int, int]], table: str) -> str:
    if table not in sizes:
        return ""
    rows, size = sizes[table]
    return f" (source: ~{rows:,} rows, {size / 1048576:.1f} MB)"


def shadow_check(url: str, files: list[tuple[str, list[tuple[int, str]]]]) -> dict[str, ShadowFile]:
    """Run each (path, [(line, statement)]) in order on a fresh schema-only copy of `url`'s database."""
    results: dict[str, ShadowFile] = {}
    with shadow_database(url) as (cur, sizes):
        runner = MyShadow(cur, sizes)
        for path, statements in files:
            results[path] = runner.run_file(statements)
    return results
