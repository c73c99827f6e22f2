"""What a migration check finds: verdicts, findings, per-file and per-run reports.

A file's verdict is its worst finding; a run's verdict is its worst file. `error` (the SQL could
not be parsed or run) ranks above every classification so it can never be mistaken for a pass.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any


class Verdict(enum.StrEnum):
    SAFE = "safe"
    LOCK_RISK = "lock_risk"  # compatible, but blocks traffic for time proportional to table size
    BACKWARD_INCOMPATIBLE = "backward_incompatible"  # the running (old) version breaks
    DESTRUCTIVE = "destructive"  # data is lost
    ERROR = "error"  # not a classification: the file could not be analysed

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def worst(cls, verdicts: Any) -> Verdict:
        return max(verdicts, key=lambda v: v.rank, default=cls.SAFE)


_RANK = {Verdict.SAFE: 0, Verdict.LOCK_RISK: 1, Verdict.BACKWARD_INCOMPATIBLE: 2, Verdict.DESTRUCTIVE: 3,
         Verdict.ERROR: 4}
PROBLEM_CLASSES = (Verdict.LOCK_RISK, Verdict.BACKWARD_INCOMPATIBLE, Verdict.DESTRUCTIVE)


class Phase(enum.StrEnum):
    EXPAND = "expand"  # runs before the new color starts; the old version must keep working
    CONTRACT = "contract"  # runs once the old color can no longer be rolled back to


@dataclass(frozen=True)
class ObjectRef:
    """A table or column a statement drops or renames: what the old-source scan looks for."""

    table: str
    column: str | None = None
    action: str = "drop"  # drop | rename

    @property
    def label(self) -> str:
        return f"{self.table}.{self.column}" if self.column else self.table


@dataclass(frozen=True)
class Finding:
    rule: str
    verdict: Verdict
    line: int
    message: str
    safe_alternative: tuple[str, ...]
    phase: Phase
    lock_timeout: str | None = None  # suggested `SET lock_timeout` where a table lock can queue traffic
    column: int = 1
    objects: tuple[ObjectRef, ...] = ()
    references: tuple[str, ...] = ()  # where the old source still uses `objects` (path:line)
    ignored: str | None = None  # the reason given in `-- turnout:ignore`, when suppressed

    def with_(self, **changes: Any) -> Finding:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule, "verdict": self.verdict.value, "line": self.line, "message": self.message,
            "safe_alternative": list(self.safe_alternative), "phase": self.phase.value,
            "lock_timeout": self.lock_timeout,
        }
        if self.references:
            out["references"] = list(self.references)
        if self.ignored is not None:
            out["ignored"] = self.ignored
        return out


@dataclass(frozen=True)
class StatementInfo:
    """One top-level statement and its verdict (every statement is classified, findings or not)."""

    line: int
    kind: str
    verdict: Verdict


@dataclass(frozen=True)
class SqlError:
    line: int
    column: int
    message: str


class SqlParseError(Exception):
    """The SQL of a file could not be parsed (by pglast or sqlglot); carries where."""

    def __init__(self, error: SqlError) -> None:
        super().__init__(f"line {error.line}, column {error.column}: {error.message}")
        self.error = error


@dataclass
class FileReport:
    path: str
    dialect: str = "postgresql"
    findings: list[Finding] = field(default_factory=list)
    statements: list[StatementInfo] = field(default_factory=list)
    error: SqlError | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def active(self) -> list[Finding]:
        return [f for f in self.findings if f.ignored is None]

    @property
    def verdict(self) -> Verdict:
        if self.error is not None:
            return Verdict.ERROR
        return Verdict.worst(f.verdict for f in self.active)

    @property
    def classes(self) -> set[Verdict]:
        return {f.verdict for f in self.active if f.verdict in PROBLEM_CLASSES}

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path, "verdict": self.verdict.value,
            "findings": [f.as_dict() for f in sorted(self.findings, key=lambda f: (f.line, f.rule))],
            "statements": [{"line": s.line, "kind": s.kind, "verdict": s.verdict.value} for s in self.statements],
        }
        if self.error is not None:
            out["error"] = {"line": self.error.line, "column": self.error.column, "message": self.error.message}
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass
class Report:
    files: list[FileReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the run (e.g. how an ORM's plan was read)

    @property
    def verdict(self) -> Verdict:
        return Verdict.worst(f.verdict for f in self.files)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict.value, "files": [f.as_dict() for f in self.files]}
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @property
    def exit_code(self) -> int:
        """0 all safe, 1 findings, 2 a file could not be parsed (see docs/migrations.md)."""
        return {Verdict.SAFE: 0, Verdict.ERROR: 2}.get(self.verdict, 1)
