"""Real servers for the session, each in a temp dir on a free loopback port, and a fresh database per test:
MariaDB (mariadb-install-db / mysql_install_db), stopped afterwards. PostgreSQL is in tests/pg.py.

Missing binaries FAIL the tests (they do not skip): scripts/install-servers.sh installs both.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.pg import free_port as _free_port


def run_sql(url: str, text: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(text.encode())


@dataclass(frozen=True)
class MariaDB:
    host: str
    port: int
    socket: Path
    user: str = "turnout"
    password: str = "turnout-test"

    def url(self, dbname: str) -> str:
        return f"mysql://{self.user}:{self.password}@{self.host}:{self.port}/{dbname}"


def _mariadb_bin(*names: str) -> Path | None:
    for name in names:
        for folder in (None, "/usr/sbin", "/usr/bin", "/usr/libexec"):
            found = shutil.which(name, path=folder) if folder else shutil.which(name)
            if found:
                return Path(found)
    return None


def _wait_for(sock: Path, proc: subprocess.Popen[bytes], log: Path) -> None:
    import time

    import pymysql

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mariadbd exited ({proc.returncode}): {log.read_text()[-2000:] if log.exists() else ''}")
        try:
            pymysql.connect(unix_socket=str(sock), user="root").close()
            return
        except pymysql.MySQLError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("mariadbd did not accept connections within 60 s")


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    import pymysql

    server = _mariadb_bin("mariadbd", "mysqld")
    install = _mariadb_bin("mariadb-install-db", "mysql_install_db")
    if server is None or install is None:
        pytest.fail("MariaDB server binaries (mariadbd, mariadb-install-db) not found: run scripts/install-servers.sh "
                    "(Debian package mariadb-server)")
    root = Path(tempfile.mkdtemp(prefix="turnout-mariadb-"))
    data, sock, log, port = root / "data", root / "mysqld.sock", root / "mysqld.log", _free_port()
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "nobody")
    subprocess.run([str(install), "--no-defaults", f"--datadir={data}", f"--user={user}", "--skip-test-db",
                    "--auth-root-authentication-method=socket"], check=True, capture_output=True)
    proc = subprocess.Popen([str(server), "--no-defaults", f"--datadir={data}", f"--user={user}", f"--socket={sock}",
                             f"--port={port}", "--bind-address=127.0.0.1", f"--pid-file={root / 'mysqld.pid'}",
                             f"--log-error={log}", "--skip-log-bin", "--innodb-buffer-pool-size=32M",
                             "--innodb-flush-log-at-trx-commit=0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(sock, proc, log)
        info = MariaDB("127.0.0.1", port, sock)
        with pymysql.connect(unix_socket=str(sock), user="root", autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE USER '{info.user}'@'127.0.0.1' IDENTIFIED BY '{info.password}'")
            cur.execute(f"GRANT ALL ON *.* TO '{info.user}'@'127.0.0.1'")
        yield info
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mariadb_database(mariadb: MariaDB) -> Iterator[str]:
    """URL of a new, empty MariaDB database, dropped after the test."""
    import pymysql

    name = f"t_{secrets.token_hex(4)}"
    with pymysql.connect(unix_socket=str(mariadb.socket), user="root", autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    yield mariadb.url(name)
    with pymysql.connect(unix_socket=str(mariadb.socket), user="root", autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def run_mysql(url: str, text: str) -> None:
    import pymysql

    from turnout.migrate.mysql_shadow import _params

    with pymysql.connect(autocommit=True, **_params(url)) as conn, conn.cursor() as cur:
        for stmt in (s for s in text.split(";") if s.strip()):
            cur.execute(stmt)
