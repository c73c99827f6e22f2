"""A real PostgreSQL for the tests (initdb on a free loopback port, in a temp dir), stopped afterwards.

Missing binaries FAIL the tests (they do not skip): scripts/install-servers.sh installs them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from glob import glob
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from turnout.infra.procs import free_port


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str = "postgres"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"


def _bin(name: str) -> Path | None:
    for candidate in (os.environ.get("TURNOUT_PG_BIN"), *sorted(glob("/usr/lib/postgresql/*/bin"), reverse=True)):
        if candidate and (Path(candidate) / name).is_file():
            return Path(candidate) / name
    found = shutil.which(name)
    return Path(found) if found else None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if initdb is None or pg_ctl is None or _bin("pg_dump") is None:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl, pg_dump) not found: install postgresql-15 "
                    "or set TURNOUT_PG_BIN to their folder")
    root = Path(tempfile.mkdtemp(prefix="turnout-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run([*as_user, str(initdb), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E",
                    "UTF8"], check=True, capture_output=True)
    opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c TimeZone=UTC")
    subprocess.run([*as_user, str(pg_ctl), "-D", str(data), "-l", str(root / "pg.log"), "-o", opts, "-w", "start"],
                   check=True, capture_output=True)
    try:
        yield PgServer("127.0.0.1", port)
    finally:
        subprocess.run([*as_user, str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"], check=False,
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def database(postgres: PgServer) -> Iterator[str]:
    """URL of a new, empty database, dropped after the test."""
    name = f"t_{secrets.token_hex(4)}"
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield postgres.url(name)
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
