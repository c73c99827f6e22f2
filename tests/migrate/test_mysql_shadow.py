"""MySQL/MariaDB shadow run on a real MariaDB: what the server does with each statement, asked, not guessed."""

from __future__ import annotations

from pathlib import Path

import pymysql

from tests.migrate.conftest import MariaDB, run_mysql
from turnout.migrate import CheckOptions, check_paths
from turnout.migrate.mysql_shadow import _params

SOURCE = """
CREATE TABLE users (id INT PRIMARY KEY, age INT NOT NULL, nick VARCHAR(15) NOT NULL, data BLOB NOT NULL);
INSERT INTO users VALUES (1, 30, 'a', 'x'), (2, 40, 'b', 'y');
CREATE TABLE orders (id INT PRIMARY KEY, user_id INT NOT NULL)
"""


def check(url: str, folder: Path, files: dict[str, str]) -> dict[str, tuple[list[tuple[str, int]], object, list[str]]]:
    folder.mkdir()
    for name, sql in files.items():
        (folder / name).write_text(sql)
    report = check_paths([folder], CheckOptions(dialect="mysql", database=url))
    return {Path(f.path).name: (sorted((x.rule, x.line) for x in f.active), f.error, f.notes) for f in report.files}


def test_shadow_run_asks_the_server(mariadb_database: str, tmp_path: Path) -> None:
    run_mysql(mariadb_database, SOURCE)
    out = check(mariadb_database, tmp_path / "m", {
        "1_widen_int.sql": "ALTER TABLE users MODIFY age BIGINT NOT NULL;\n",
        "2_add_column.sql": "ALTER TABLE users ADD COLUMN note TEXT NULL;\nCREATE INDEX users_age ON users (age);\n",
        "3_sees_2.sql": "ALTER TABLE users MODIFY note MEDIUMTEXT NULL;\n",
        "4_varchar.sql": "ALTER TABLE users MODIFY nick VARCHAR(100) NOT NULL;\n",
        "5_refused.sql": "ALTER TABLE users MODIFY age INT NOT NULL, ALGORITHM=INPLACE, LOCK=NONE;\n",
        "6_nullable.sql": "ALTER TABLE users MODIFY nick VARCHAR(100) NULL;\n",
        "7_new_table.sql": "CREATE TABLE tags (id INT PRIMARY KEY, name VARCHAR(10));\n"
                           "ALTER TABLE tags MODIFY name VARCHAR(300);\n",
    })
    # a type change: the static rule says copy, and the server confirms it copies (writes blocked)
    assert out["1_widen_int.sql"][0] == [("mysql-table-copy", 1), ("shadow-rebuild", 1)]
    # instant ADD COLUMN and an online index build: nothing blocks
    assert out["2_add_column.sql"][0] == []
    # file 3 sees the column file 2 added (on the copy too, where TEXT -> MEDIUMTEXT copies)
    assert out["3_sees_2.sql"][0] == [("mysql-table-copy", 1), ("shadow-rebuild", 1)]
    # the live schema and server version are used: MariaDB 10.4+ extends a VARCHAR instantly, past 255 bytes too
    assert out["4_varchar.sql"][0] == []
    # a stated online clause the server refuses: the static rule and the server agree it fails as written
    assert out["5_refused.sql"][0] == [("change-column-type", 1), ("mysql-algorithm-unsupported", 1),
                                       ("shadow-refused", 1)]
    # NOT NULL -> NULL: a compatibility finding, rebuilt in place with concurrent DML (a note, not a lock finding)
    assert out["6_nullable.sql"][0] == [("drop-not-null", 1)]
    assert any("rebuilt users" in n for n in out["6_nullable.sql"][2])  # type: ignore[union-attr]
    # tables created by the file are new and empty: nothing to measure
    assert out["7_new_table.sql"][0] == []
    with pymysql.connect(autocommit=True, **_params(mariadb_database)) as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE 'turnout\\\\_shadow\\\\_%'")
        assert cur.fetchall() == ()  # the copy is dropped
        cur.execute("SHOW COLUMNS FROM users LIKE 'note'")
        assert cur.fetchall() == ()  # and the source never touched


def test_a_statement_that_fails_on_the_copy_is_an_error(mariadb_database: str, tmp_path: Path) -> None:
    run_mysql(mariadb_database, SOURCE)
    out = check(mariadb_database, tmp_path / "m", {
        "1.sql": "ALTER TABLE users ADD COLUMN ok INT NULL;\n\nALTER TABLE missing ADD COLUMN x INT;\n"})
    err = out["1.sql"][1]
    assert err is not None and err.line == 3 and "doesn't exist" in err.message  # type: ignore[attr-defined]


def test_locks_that_block_reads_and_writes(mariadb_database: str, tmp_path: Path) -> None:
    run_mysql(mariadb_database, SOURCE)
    out = check(mariadb_database, tmp_path / "m", {
        "1.sql": "ALTER TABLE orders ADD CONSTRAINT fk_user FOREIGN KEY (user_id) REFERENCES users (id);\n",
        "2.sql": "ALTER TABLE orders DROP PRIMARY KEY;\n",
    })
    assert out["1.sql"][0] == [("add-foreign-key", 1), ("shadow-rebuild", 1)]
    assert out["2.sql"][0] == [("mysql-table-copy", 1), ("shadow-rebuild", 1)]


def test_server_is_real(mariadb: MariaDB) -> None:
    with pymysql.connect(unix_socket=str(mariadb.socket), user="root") as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        assert "MariaDB" in cur.fetchone()[0]
