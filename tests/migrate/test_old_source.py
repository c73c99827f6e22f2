"""`--old-source`: whole-token matches under the names ORMs give a column in code, nothing looser."""

from __future__ import annotations

from pathlib import Path

import pytest

from turnout.migrate import CheckOptions, check_paths
from turnout.migrate.refs import SourceTree, name_pattern


@pytest.mark.parametrize(("column", "code", "found"), [
    ("user_name", "u.user_name", True),
    ("user_name", "SELECT USER_NAME FROM users", True),
    ("user_name", "this.userName = x", True),  # camelCase (JPA, Sequelize, TypeORM)
    ("user_name", "public string UserName { get; set; }", True),  # PascalCase (EF, Go structs)
    ("user_name", "const username = form.username", False),  # another identifier
    ("user_name", "user.Username", False),
    ("user_name", "user_name_old = 1", False),  # whole tokens only
    ("user_name", "$user_names", False),
    ("email", "Email: string", True),
    ("email", "emails.push(x)", False),
    ("orderId", "order.orderId", True),  # a camelCase column (Prisma) ...
    ("orderId", "row['order_id']", True),  # ... and its snake_case spelling
    ("orderId", "orderid", False),
])
def test_name_pattern(column: str, code: str, found: bool) -> None:
    assert bool(name_pattern(column).search(code)) is found


def test_old_source_references_decide_the_verdict(tmp_path: Path) -> None:
    src = tmp_path / "blue"
    (src / "app").mkdir(parents=True)
    (src / "app" / "models.py").write_text("class User(Model):\n    username = CharField()\n    userName2 = 1\n")
    (src / "app" / "profile.ts").write_text("export const show = (u: User) => u.displayName;\n")
    mig = tmp_path / "0007.sql"
    mig.write_text("ALTER TABLE users DROP COLUMN user_name;\nALTER TABLE users DROP COLUMN display_name;\n")
    report = check_paths([mig], CheckOptions(old_source=src))
    by_line = {f.line: f for f in report.files[0].findings}
    # `username` and `userName2` are other identifiers: user_name is unused by the running version
    assert by_line[1].verdict.value == "safe" and by_line[1].references == ()
    assert by_line[2].verdict.value == "destructive" and by_line[2].references == ("app/profile.ts:1",)


def test_source_tree_skips_old_migrations(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0001.sql").write_text("CREATE TABLE t (user_name text);\n")
    (tmp_path / "app.py").write_text("print('no reference here')\n")
    assert SourceTree.load(tmp_path).find("user_name") == []
