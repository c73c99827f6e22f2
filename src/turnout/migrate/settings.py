"""The `[database]` table as migrate uses it. The schema (turnout.config) checks its keys and
values; what only migrate knows is resolved here: environment variables in the url, the folder,
and the target server version.

    [database]
    url = "${DATABASE_URL}"       # environment variables are expanded
    migrations = "migrations"     # folder (relative to turnout.toml) with expand/ and contract/
    lock_timeout = "2s"           # SET lock_timeout for every migration (PostgreSQL syntax)
    table = "turnout_migrations"  # where applied migrations are recorded
    version = "postgresql 15"     # target server for `turnout migrate check` (also "mysql 8.0.29", "mariadb 10.11")
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from turnout.errors import ConfigError
from turnout.migrate.versions import ServerVersion, parse_version

if TYPE_CHECKING:
    from turnout.config import Config, DatabaseConfig


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    folder: Path
    lock_timeout: str = "2s"
    table: str = "turnout_migrations"
    version: ServerVersion | None = None  # stated target server; the live server's version wins when connected

    @classmethod
    def from_config(cls, cfg: Config) -> DatabaseSettings:
        db = cfg.database
        if db is None:
            raise ConfigError("missing", key=("database",), hint="add a [database] table with url and migrations")
        url = os.path.expandvars(db.url)
        if "$" in url:
            raise ConfigError(f"unset environment variable in {db.url!r}", key=("database", "url"))
        return cls(url, (cfg.base_dir / db.migrations).resolve(), db.lock_timeout, db.table, target_version(db))


def target_version(db: DatabaseConfig | None) -> ServerVersion | None:
    """`[database] version` alone: `turnout migrate check` needs it without a reachable url."""
    if db is None or db.version is None:
        return None
    try:
        return parse_version(db.version)
    except ValueError as exc:
        raise ConfigError(str(exc), key=("database", "version")) from None


def configured_version(config_path: Path) -> ServerVersion | None:
    """`[database] version` of a turnout.toml, for `turnout migrate check --config`."""
    from turnout.config import load

    cfg = load(config_path)
    try:
        return target_version(cfg.database)
    except ConfigError as exc:
        raise cfg.locate(exc) from None
