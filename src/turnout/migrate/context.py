"""Context a linter lacks: how the file runs (transactions), the target server, inline ignores.

Ignores need a reason, so a suppression always says why in review:

    -- turnout:ignore drop-column the column has been unused since v41 (checked with --old-source)
    -- turnout:ignore-file create-index table holds 200 rows

`turnout:ignore` applies to the statement it is in, else to the next one.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from pathlib import Path

from turnout.migrate.findings import Finding
from turnout.migrate.rules import RULES
from turnout.migrate.versions import DEFAULTS, ServerVersion


class TxMode(enum.StrEnum):
    AUTO = "auto"  # as `turnout migrate` runs it: one transaction unless the file cannot run in one
    FILE = "file"  # always one transaction per file (Flyway, golang-migrate multi-statement)
    STATEMENT = "statement"  # autocommit per statement, explicit BEGIN/COMMIT honoured (psql -f)


@dataclass(frozen=True)
class CheckOptions:
    dialect: str = "postgresql"
    pg_version: int = 15  # major version of the target server
    tx_mode: TxMode = TxMode.AUTO
    old_source: Path | None = None
    database: str | None = None  # shadow check against a schema-only copy of this database
    schema: tuple[Path, ...] = ()
    mysql_version: ServerVersion = field(default_factory=lambda: ServerVersion("mysql", DEFAULTS["mysql"]))


_IGNORE = re.compile(r"--\s*turnout:ignore(?P<file>-file)?[ \t]+(?P<rules>[\w-]+(?:[ \t]*,[ \t]*[\w-]+)*)"
                     r"(?P<reason>[^\n]*)")
# turnout's own marker, and the equivalents of goose, dbmate and Atlas
NO_TRANSACTION = re.compile(r"--\s*(turnout:no-transaction\b|\+goose NO TRANSACTION|migrate:up\b.*transaction:false"
                            r"|atlas:txmode none)", re.IGNORECASE)
_DOWN = re.compile(r"^--\s*(\+goose Down|migrate:down)\b.*$", re.IGNORECASE | re.MULTILINE)
PHASE_HEADER = re.compile(r"--\s*turnout:phase[ \t]+(\w+)")


@dataclass(frozen=True)
class Ignore:
    line: int
    rules: frozenset[str]
    reason: str
    file_wide: bool


@dataclass
class Span:
    start: int
    end: int


def parse_ignores(text: str) -> list[Ignore]:
    out = []
    for m in _IGNORE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        rules = frozenset(r.strip() for r in m.group("rules").split(","))
        out.append(Ignore(line, rules, m.group("reason").strip(), bool(m.group("file"))))
    return out


@dataclass
class IgnoreResult:
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)


def apply_ignores(findings: list[Finding], ignores: list[Ignore], spans: list[Span]) -> IgnoreResult:
    """Mark suppressed findings; an ignore without a reason, or that matches nothing, is reported."""
    res = IgnoreResult(list(findings))
    for ig in ignores:
        unknown = sorted(r for r in ig.rules if r not in RULES and not r.startswith("shadow-"))
        if unknown:
            res.notes.append(f"line {ig.line}: turnout:ignore names unknown rule(s) {', '.join(unknown)}")
        if not ig.reason:
            res.notes.append(f"line {ig.line}: turnout:ignore {','.join(sorted(ig.rules))} has no reason, "
                             "so it was not applied (write why after the rule id)")
            continue
        lo, hi = (1, 1 << 30) if ig.file_wide else _target(ig.line, spans)
        hit = False
        for i, f in enumerate(res.findings):
            if f.rule in ig.rules and lo <= f.line <= hi and f.ignored is None:
                res.findings[i] = f.with_(ignored=ig.reason)
                hit = True
        if not hit and not unknown:
            res.notes.append(f"line {ig.line}: turnout:ignore {','.join(sorted(ig.rules))} matched no finding")
    return res


def _target(line: int, spans: list[Span]) -> tuple[int, int]:
    for s in spans:
        if s.start <= line <= s.end:
            return s.start, s.end
    later = [s for s in spans if s.start > line]
    return (later[0].start, later[0].end) if later else (0, -1)


def line_of(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a character offset."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def up_section(text: str) -> str:
    """The SQL a deploy runs: goose/dbmate files carry their rollback after a Down marker."""
    m = _DOWN.search(text)
    return text if m is None else text[: m.start()] + "\n" * text.count("\n", m.start())


def declared_phase(text: str) -> str | None:
    m = PHASE_HEADER.search(text)
    return m.group(1).lower() if m else None


# `-- users.email is varchar(100)`, `-- email was VARCHAR(64) NOT NULL`, `-- current: name varchar(50)`:
# a migration that states a column's current definition in a comment, for when no schema is given.
_TYPE_WORDS = (r"(?:character\s+varying|double\s+precision|timestamp(?:\s+with(?:out)?\s+time\s+zone)?|varchar|char|"
               r"character|text|tinytext|mediumtext|longtext|integer|int[248]?|bigint|smallint|mediumint|tinyint|"
               r"numeric|decimal|real|float[48]?|double|json|jsonb|timestamptz|datetime|date|time|boolean|bool|uuid|"
               r"bytea|blob|tinyblob|mediumblob|longblob|varbinary|binary|enum)")
_NAME = r"[`\"]?([A-Za-z_]\w*)[`\"]?"
STATED_COLUMN = re.compile(
    r"^[ \t]*--[ \t]*(?:" + _NAME + r"\.)?" + _NAME +
    r"[ \t]+(?:is|was|is currently|currently|is now)[ \t]*:?[ \t]+(?P<type>" + _TYPE_WORDS +
    r"(?:[ \t]*\([^)]*\))?(?:[ \t]+unsigned)?(?:[ \t]+not[ \t]+null|[ \t]+null)?)[ \t]*[.;,]?[ \t]*$",
    re.IGNORECASE | re.MULTILINE)
_NOT_COLUMNS = frozenset({"this", "it", "that", "which", "type", "column", "field", "value", "there", "here"})


def stated_columns(text: str) -> dict[tuple[str | None, str], str]:
    """(table or None, column) -> the type definition a comment states for it."""
    out: dict[tuple[str | None, str], str] = {}
    for m in STATED_COLUMN.finditer(text):
        table, column = m.group(1), m.group(2)
        if column.lower() not in _NOT_COLUMNS:
            out[(table.lower() if table else None, column.lower())] = m.group("type").strip()
    return out


_STATED_CHECK = re.compile(r"^[ \t]*--.*\bCHECK[ \t]*\([ \t]*\(?[ \t]*[`\"]?(\w+)[`\"]?"
                           r"[ \t]+IS[ \t]+NOT[ \t]+NULL[ \t]*\)?[ \t]*\)(?P<rest>.*)$", re.IGNORECASE | re.MULTILINE)


def stated_not_null_checks(text: str) -> set[str]:
    """Columns a comment says already have a validated `CHECK (col IS NOT NULL)` (the PostgreSQL 12
    recipe split over migrations: `-- users_email_nn CHECK (email IS NOT NULL) was validated in 0041`)."""
    return {m.group(1).lower() for m in _STATED_CHECK.finditer(text)
            if re.search(r"\bvalid(ated)?\b", m.group(0), re.IGNORECASE)
            and not re.search(r"\bnot[ \t]+valid(ated)?\b", m.group("rest"), re.IGNORECASE)}
