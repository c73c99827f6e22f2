"""Target server versions: `[database] version`, `--pg-version`/`--mysql-version`, or a comment in the file.

Lock behaviour depends on the server: PostgreSQL 11 adds constant defaults instantly, 12 lets
`SET NOT NULL` use a valid CHECK; MySQL 8.0.12 adds columns instantly (at the end; anywhere from
8.0.29), MariaDB 10.3 too. A migration may state the version it targets, which wins for that file:

    -- turnout:postgres-version 10        (also turnout:pg-version, turnout:mysql-version 8.0.12,
    -- turnout:mariadb-version 10.6)       and plain statements such as `-- target: PostgreSQL 11`
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENGINES = {"postgres": "postgresql", "postgresql": "postgresql", "pg": "postgresql", "mysql": "mysql",
           "mariadb": "mariadb"}
DEFAULTS = {"postgresql": (15,), "mysql": (8, 0, 29), "mariadb": (10, 11)}
_TEXT = re.compile(r"^\s*(postgres(?:ql)?|pg|mysql|mariadb)?[\s:_-]*v?(\d+(?:\.\d+){0,2})\s*$", re.IGNORECASE)
# A comment line that says nothing but which server the file targets.
_DIRECTIVE = re.compile(
    r"^[ \t]*--[ \t]*(?:turnout:[ \t]*)?(?:(?:target(?:ed)?|targets|for|runs on|requires|server|database)[ \t]*"
    r"(?:version)?[ \t]*[:=]?[ \t]*)?(postgres(?:ql)?|pg|mysql|mariadb)[ \t_-]*(?:version|server)?[ \t]*[:=]?[ \t]*"
    r"v?(\d+(?:\.\d+){0,2})\+?[ \t]*\.?[ \t]*$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class ServerVersion:
    engine: str  # postgresql | mysql | mariadb
    parts: tuple[int, ...]

    @property
    def major(self) -> int:
        return self.parts[0]

    def at_least(self, *parts: int) -> bool:
        return self.parts + (0,) * (len(parts) - len(self.parts)) >= parts

    def __str__(self) -> str:
        return f"{self.engine} {'.'.join(map(str, self.parts))}"


def parse_version(text: str, engine: str | None = None) -> ServerVersion:
    """'postgresql 11', 'mysql 8.0.29', 'mariadb-10.11', or a bare '11' with `engine` given."""
    m = _TEXT.match(text)
    if m is None:
        raise ValueError(f"expected a version such as 'postgresql 15', 'mysql 8.0.29' or 'mariadb 10.11', got {text!r}")
    named = ENGINES[m.group(1).lower()] if m.group(1) else engine
    if named is None:
        v = m.group(2)
        raise ValueError(f"say which server: 'postgresql {v}', 'mysql {v}' or 'mariadb {v}'")
    if engine is not None and named != engine and {named, engine} != {"mysql", "mariadb"}:
        raise ValueError(f"{text!r} is not a {engine} version")
    parts = tuple(int(p) for p in m.group(2).split("."))
    low, high = {"postgresql": (9, 30), "mysql": (5, 9), "mariadb": (10, 20)}[named]
    if not low <= parts[0] <= high:
        raise ValueError(f"unsupported {named} version {m.group(2)}")
    return ServerVersion(named, parts)


def stated_version(text: str, dialect: str) -> ServerVersion | None:
    """The target version a migration states in a comment line, if it states one for its dialect."""
    for m in _DIRECTIVE.finditer(text):
        engine = ENGINES[m.group(1).lower()]
        if (engine == "postgresql") == (dialect == "postgresql"):
            try:
                return parse_version(f"{engine} {m.group(2)}")
            except ValueError:
                continue
    return None


def resolve(pg_version: str | None, mysql_version: str | None, configured: ServerVersion | None) -> dict[str, object]:
    """CheckOptions fields from the flags, else `[database] version`, else the defaults (flags win)."""
    out: dict[str, object] = {}
    if configured is not None and configured.engine == "postgresql":
        out["pg_version"] = configured.major
    elif configured is not None:
        out["mysql_version"] = configured
    if pg_version is not None:
        out["pg_version"] = parse_version(pg_version, "postgresql").major
    if mysql_version is not None:
        out["mysql_version"] = parse_version(mysql_version, "mysql")
    return out
