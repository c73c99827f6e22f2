"""Expand/contract: run a folder of PostgreSQL migrations in the phase each belongs to.

    migrations/expand/0003_add_email.sql       before the new color starts (`turnout deploy`)
    migrations/contract/0004_drop_login.sql    once the old color can no longer be rolled back to
    migrations/0005_x.sql                      or say it in the file: `-- turnout:phase expand`

Pending expand migrations are checked against the live schema first. `backward_incompatible` and
`destructive` (and unparseable) ones are refused, all before any runs: they would break the color
still serving traffic. `lock_risk` ones run, under `SET lock_timeout` with retries. Contract
migrations are refused while `can_rollback()` says the old color is still a rollback target.
Applied migrations are recorded in `turnout_migrations(name, phase, checksum, applied_at)`; an
applied file whose checksum changed is an error. A file runs in one transaction (with its record)
unless it has its own BEGIN/COMMIT, a statement that cannot run in one, or `-- turnout:no-transaction`.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from turnout.config import Config
from turnout.errors import MigrationError
from turnout.migrate.check import Checker
from turnout.migrate.context import NO_TRANSACTION, CheckOptions, declared_phase
from turnout.migrate.findings import FileReport, Phase, Verdict
from turnout.migrate.pg_parse import SqlParseError, non_transactional, statements
from turnout.migrate.settings import DatabaseSettings
from turnout.migrate.shadow import load_catalog

log = logging.getLogger("turnout.migrate")
REFUSED_IN_EXPAND = frozenset({Verdict.BACKWARD_INCOMPATIBLE, Verdict.DESTRUCTIVE, Verdict.ERROR})


@dataclass(frozen=True)
class Migration:
    name: str  # file name; unique in the folder, stable when a file moves between expand/ and contract/
    phase: Phase
    path: Path
    sql: str
    checksum: str


@dataclass(frozen=True)
class PlanItem:
    migration: Migration
    state: str  # applied | pending | changed
    applied_at: float | None
    verdict: Verdict | None  # check verdict of a pending migration
    when: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.migration.name, "phase": self.migration.phase.value, "state": self.state,
                "applied_at": self.applied_at, "verdict": self.verdict.value if self.verdict else None,
                "when": self.when, "path": str(self.migration.path)}


def discover(folder: Path) -> list[Migration]:
    if not folder.is_dir():
        raise MigrationError(f"{folder}: migrations folder not found", hint="set [database] migrations in turnout.toml")
    found: dict[str, Migration] = {}
    for path in sorted(folder.rglob("*.sql")):
        rel = path.relative_to(folder)
        text = path.read_text(encoding="utf-8")
        by_folder = rel.parts[0] if len(rel.parts) > 1 and rel.parts[0] in ("expand", "contract") else None
        by_header = declared_phase(text)
        if by_header not in (None, "expand", "contract"):
            raise MigrationError(f"{rel}: unknown phase {by_header!r} in its header; use expand or contract")
        if by_folder and by_header and by_folder != by_header:
            raise MigrationError(f"{rel}: its folder says {by_folder} but its header says {by_header}")
        phase = by_folder or by_header
        if phase is None:
            raise MigrationError(f"{rel}: no phase", hint="put it under expand/ or contract/, or add a line "
                                 "`-- turnout:phase expand` (or contract)")
        if path.name in found:
            raise MigrationError(f"{rel}: another migration is also named {path.name}")
        found[path.name] = Migration(path.name, Phase(phase), path, text, hashlib.sha256(text.encode()).hexdigest())
    return [found[k] for k in sorted(found)]


class Migrations:
    def __init__(self, folder: Path, url: str, *, lock_timeout: str = "2s", table: str = "turnout_migrations",
                 retries: int = 3, retry_delay: float = 1.0) -> None:
        self.folder, self.url, self.lock_timeout, self.table = folder, url, lock_timeout, table
        self.retries, self.retry_delay = retries, retry_delay

    @classmethod
    def from_settings(cls, s: DatabaseSettings) -> Migrations:
        return cls(s.folder, s.url, lock_timeout=s.lock_timeout, table=s.table)

    @classmethod
    def from_config(cls, cfg: Config) -> Migrations | None:
        """The app's migrations, or None when turnout.toml has no [database] table."""
        return cls.from_settings(DatabaseSettings.from_config(cfg)) if cfg.database else None

    def migrations(self) -> list[Migration]:
        return discover(self.folder)

    # -- state --------------------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self.url, autocommit=True)
        except psycopg.Error as exc:
            raise MigrationError(f"cannot connect to the database: {str(exc).strip()}") from None
        conn.execute(sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, phase text NOT NULL, checksum text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())").format(sql.Identifier(self.table)))
        return conn

    def applied(self) -> dict[str, tuple[str, str, float]]:
        with self._connect() as conn:
            return self._applied(conn)

    def _applied(self, conn: psycopg.Connection[Any]) -> dict[str, tuple[str, str, float]]:
        rows = conn.execute(sql.SQL("SELECT name, phase, checksum, extract(epoch FROM applied_at) FROM {}")
                            .format(sql.Identifier(self.table))).fetchall()
        return {r[0]: (r[1], r[2], float(r[3])) for r in rows}

    def pending(self, phase: Phase | str | None = None) -> list[Migration]:
        applied = self.applied()
        return [m for m in self._verified(applied) if m.name not in applied and (phase is None or m.phase == phase)]

    def _verified(self, applied: dict[str, tuple[str, str, float]]) -> list[Migration]:
        migrations = self.migrations()
        changed = [m.name for m in migrations if m.name in applied and applied[m.name][1] != m.checksum]
        if changed:
            raise MigrationError(f"applied migration(s) changed since they ran: {', '.join(changed)}",
                                 hint="never edit an applied migration; write a new one (restore the file from git)")
        return migrations

    # -- checks and plan ----------------------------------------------------------------------------
    def check(self, migrations: list[Migration]) -> list[FileReport]:
        """Check pending migrations in order against the live schema and server version."""
        with self._connect() as conn:
            version = conn.info.server_version // 10000
        checker = Checker(CheckOptions(pg_version=version))
        checker.catalog = load_catalog(self.url)
        return [checker.check_text(m.sql, str(m.path)) for m in migrations]

    def plan(self, can_rollback: Callable[[], bool] | None = None) -> list[PlanItem]:
        applied = self.applied()
        migrations = self.migrations()
        pending = [m for m in migrations if m.name not in applied]
        verdicts = {m.name: r.verdict for m, r in zip(pending, self.check(pending), strict=True)}
        rollback = can_rollback() if can_rollback is not None else None
        items = []
        for m in migrations:
            if m.name in applied:
                state = "applied" if applied[m.name][1] == m.checksum else "changed"
                items.append(PlanItem(m, state, applied[m.name][2], None, "already applied" if state == "applied"
                                      else "ERROR: the file changed after it was applied"))
                continue
            v = verdicts[m.name]
            if m.phase is Phase.EXPAND:
                when = ("refused: not safe for the running version" if v in REFUSED_IN_EXPAND
                        else "next `turnout deploy`, before the new color starts")
            elif rollback is None:
                when = "`turnout migrate contract`, once the old color can no longer be rolled back to"
            else:
                when = ("after the retention window (the old color can still be rolled back to)" if rollback
                        else "now: `turnout migrate contract`")
            items.append(PlanItem(m, "pending", None, v, when))
        return items

    # -- apply ----------------------------------------------------------------------------------------
    def apply_expand(self) -> list[Migration]:
        return self.apply(Phase.EXPAND)

    def apply_contract(self, can_rollback: Callable[[], bool]) -> list[Migration]:
        if can_rollback():
            raise MigrationError("contract migrations refused: the old color can still be rolled back to",
                                 hint="run `turnout migrate contract` after the retention window ends")
        return self.apply(Phase.CONTRACT, allow_contract=True)

    def apply(self, phase: Phase | str, *, allow_contract: bool = False) -> list[Migration]:
        phase = Phase(phase)
        if phase is Phase.CONTRACT and not allow_contract:
            raise MigrationError("contract migrations refused while the old color can still be rolled back to",
                                 hint="run `turnout migrate contract` after the retention window ends")
        with self._connect() as conn:
            if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self.table,)).fetchone()[0]:  # type: ignore[index]
                raise MigrationError("another migration run holds the lock on this database")
            try:
                applied = self._applied(conn)
                todo = [m for m in self._verified(applied) if m.name not in applied]
                if phase is Phase.CONTRACT:
                    self._contract_order(todo)
                mine = [m for m in todo if m.phase is phase]
                if phase is Phase.EXPAND:
                    self._refuse_unsafe(mine)
                for m in mine:
                    self._apply_one(conn, m)
                return mine
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.table,))

    def _contract_order(self, todo: list[Migration]) -> None:
        contracts = [m.name for m in todo if m.phase is Phase.CONTRACT]
        early = [m.name for m in todo if m.phase is Phase.EXPAND and contracts and m.name < contracts[-1]]
        if early:
            raise MigrationError(f"expand migration(s) {', '.join(early)} must run before the contract ones",
                                 hint="deploy the version that carries them first")

    def _refuse_unsafe(self, migrations: list[Migration]) -> None:
        bad = []
        for m, report in zip(migrations, self.check(migrations), strict=True):
            if report.error is not None:
                bad.append(f"{m.name}:{report.error.line}: {report.error.message}")
            for f in report.active:
                if f.verdict in REFUSED_IN_EXPAND:
                    bad.append(f"{m.name}:{f.line}: {f.verdict.value} [{f.rule}] {f.message}")
                elif f.verdict is Verdict.LOCK_RISK:
                    log.warning("%s:%d: lock_risk [%s] runs with lock_timeout %s", m.name, f.line, f.rule,
                                self.lock_timeout)
        if bad:
            raise MigrationError("expand migrations refused, they would break the running version:\n  "
                                 + "\n  ".join(bad), hint="move them to contract/ or split them into expand + "
                                 "contract steps (`turnout migrate check` shows how)")

    def _apply_one(self, conn: psycopg.Connection[Any], m: Migration) -> None:
        try:
            stmts = statements(m.sql)
        except SqlParseError as exc:
            raise MigrationError(f"{m.name}:{exc.error.line}:{exc.error.column}: {exc.error.message}") from None
        single = not NO_TRANSACTION.search(m.sql) and not any(
            type(s.node).__name__ == "TransactionStmt" or non_transactional(s.node) for s in stmts)
        record = sql.SQL("INSERT INTO {} (name, phase, checksum) VALUES (%s, %s, %s)").format(
            sql.Identifier(self.table))
        for attempt in range(self.retries + 1):
            try:
                if single:
                    with conn.transaction():
                        conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(self.lock_timeout)))
                        for st in stmts:
                            self._run(conn, m, st.text, st.line)
                        conn.execute(record, (m.name, m.phase.value, m.checksum))
                else:
                    conn.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(self.lock_timeout)))
                    for st in stmts:
                        self._run(conn, m, st.text, st.line, partial=True)
                    conn.execute(record, (m.name, m.phase.value, m.checksum))
                    conn.execute("RESET lock_timeout")
                log.info("applied %s migration %s", m.phase.value, m.name)
                return
            except _LockTimeout:
                if not single or attempt == self.retries:
                    raise MigrationError(f"{m.name}: could not take its locks within lock_timeout "
                                         f"{self.lock_timeout} after {attempt + 1} attempt(s)",
                                         hint="a long transaction holds the table; retry when it ends") from None
                time.sleep(self.retry_delay * 2**attempt)

    def _run(self, conn: psycopg.Connection[Any], m: Migration, text: str, line: int, partial: bool = False) -> None:
        try:
            conn.execute(text.encode())
        except psycopg.errors.LockNotAvailable:
            raise _LockTimeout() from None
        except psycopg.Error as exc:
            hint = ("it ran outside a single transaction: statements before this one were applied; "
                    "fix the database by hand" if partial else "nothing of it was applied")
            msg = exc.diag.message_primary or str(exc)
            raise MigrationError(f"{m.name}:{line}: {msg}", hint=hint) from None


class _LockTimeout(Exception):
    pass
