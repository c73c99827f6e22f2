"""The `[database]` table of turnout.toml, validated here because only migrate reads it.

    [database]
    url = "${DATABASE_URL}"       # environment variables are expanded
    migrations = "migrations"     # folder (relative to turnout.toml) with expand/ and contract/
    lock_timeout = "2s"           # SET lock_timeout for every migration (PostgreSQL syntax)
    table = "turnout_migrations"  # where applied migrations are recorded
    version = "postgresql 15"     # target server for `turnout migrate check` (also "mysql 8.0.29", "mariadb 10.11")
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from turnout.errors import ConfigError
from turnout.migrate.versions import ServerVersion, parse_version

if TYPE_CHECKING:
    from turnout.config import Config

_KEYS = {"url", "migrations", "lock_timeout", "table", "version"}
_TIMEOUT = re.compile(r"\d+\s*(ms|s|min|h)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    folder: Path
    lock_timeout: str = "2s"
    table: str = "turnout_migrations"
    version: ServerVersion | None = None  # stated target server; the live server's version wins when connected

    @classmethod
    def from_config(cls, cfg: Config) -> DatabaseSettings:
        return cls.parse(cfg.database, cfg.base_dir)

    @classmethod
    def parse(cls, raw: dict[str, Any], base_dir: Path) -> DatabaseSettings:
        if not raw:
            raise ConfigError("database: missing", hint="add a [database] table with url and migrations")
        for key in sorted(set(raw) - _KEYS):
            raise ConfigError(f"database.{key}: unknown key (turnout.toml)", hint=f"known: {', '.join(sorted(_KEYS))}")
        for key in _KEYS & set(raw):
            if not isinstance(raw[key], str):
                raise ConfigError(f"database.{key}: expected a string (turnout.toml)")
        if "url" not in raw:
            raise ConfigError("database.url: field required (turnout.toml)")
        url = os.path.expandvars(raw["url"])
        if "$" in url:
            raise ConfigError(f"database.url: unset environment variable in {raw['url']!r} (turnout.toml)")
        timeout = raw.get("lock_timeout", "2s")
        if not _TIMEOUT.fullmatch(timeout):
            raise ConfigError(f"database.lock_timeout: expected e.g. 2s or 500ms, got {timeout!r} (turnout.toml)")
        table = raw.get("table", "turnout_migrations")
        if not _IDENT.fullmatch(table):
            raise ConfigError(f"database.table: not a plain identifier: {table!r} (turnout.toml)")
        return cls(url, (base_dir / raw.get("migrations", "migrations")).resolve(), timeout, table,
                   target_version(raw))


def target_version(raw: dict[str, Any]) -> ServerVersion | None:
    """`[database] version` alone: `turnout migrate check` needs it without a reachable url."""
    text = raw.get("version")
    if text is None:
        return None
    if not isinstance(text, str):
        raise ConfigError("database.version: expected a string such as \"postgresql 15\" (turnout.toml)")
    try:
        return parse_version(text)
    except ValueError as exc:
        raise ConfigError(f"database.version: {exc} (turnout.toml)") from None


def configured_version(config_path: Path) -> ServerVersion | None:
    """`[database] version` of a turnout.toml, for `turnout migrate check --config`."""
    from turnout.config import load

    return target_version(load(config_path).database or {})
