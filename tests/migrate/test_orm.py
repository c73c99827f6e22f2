"""--django and --alembic on small real projects the tests create, against the test PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from turnout.cli.migrate import migrate
from turnout.migrate.orm import _split


def sh(cwd: Path, *args: str) -> str:
    res = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def check(*args: str) -> dict[str, object]:
    res = CliRunner().invoke(migrate, ["check", "--format", "json", *args])
    assert res.exit_code in (0, 1), res.output
    doc: dict[str, object] = json.loads(res.output)
    return doc


def rules(doc: dict[str, object]) -> dict[str, list[str]]:
    return {f["path"]: sorted(x["rule"] for x in f["findings"]) for f in doc["files"]}  # type: ignore[attr-defined]


MODELS_V1 = """
from django.db import models

class Product(models.Model):
    name = models.CharField(max_length=50)
    price = models.IntegerField()
"""
MODELS_V2 = """
from django.db import models

class Product(models.Model):
    name = models.CharField(max_length=100)
    price = models.BigIntegerField()
    sku = models.CharField(max_length=20, default="none")
"""
MODELS_V3 = """
from django.db import models

class Product(models.Model):
    name = models.CharField(max_length=100)
    sku = models.CharField(max_length=20, default="none")
"""


def django_project(root: Path, url: str) -> Path:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    (root / "site_cfg").mkdir(parents=True)
    (root / "site_cfg" / "__init__.py").write_text("")
    (root / "site_cfg" / "settings.py").write_text(textwrap.dedent(f"""
        SECRET_KEY = "test"
        INSTALLED_APPS = ["shop"]
        DATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": "{u.path.lstrip('/')}",
                                  "USER": "{u.username}", "HOST": "{u.hostname}", "PORT": "{u.port}"}}}}
        DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
        USE_TZ = True
    """))
    (root / "manage.py").write_text(textwrap.dedent("""
        import os, sys
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_cfg.settings")
        from django.core.management import execute_from_command_line
        execute_from_command_line(sys.argv)
    """))
    (root / "shop" / "migrations").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "migrations" / "__init__.py").write_text("")
    return root


def test_django_checks_unapplied_migrations_with_the_applied_schema(database: str, tmp_path: Path) -> None:
    proj = django_project(tmp_path / "proj", database)
    models = proj / "shop" / "models.py"
    models.write_text(MODELS_V1)
    sh(proj, "manage.py", "makemigrations", "shop", "-n", "initial")
    sh(proj, "manage.py", "migrate", "shop")  # 0001 is applied: the running version's schema
    models.write_text(MODELS_V2)
    sh(proj, "manage.py", "makemigrations", "shop", "-n", "widen")
    models.write_text(MODELS_V3)
    sh(proj, "manage.py", "makemigrations", "shop", "-n", "drop_price")
    found = rules(check("--django", str(proj)))
    assert list(found) == ["shop.0002_widen", "shop.0003_drop_price"]  # not the applied 0001
    # varchar(50) -> varchar(100) is known to be coercible (0001's schema); int -> bigint only rewrites;
    # Django adds sku with a default and then drops the default: old INSERTs without sku fail
    assert found["shop.0002_widen"] == ["column-type-rewrite", "drop-default"]
    assert found["shop.0003_drop_price"] == ["drop-column"]


def test_django_backend_decides_the_dialect(database: str, tmp_path: Path) -> None:
    proj = django_project(tmp_path / "proj", database)
    (proj / "shop" / "models.py").write_text(MODELS_V1)
    sh(proj, "manage.py", "makemigrations", "shop", "-n", "initial")
    settings = proj / "site_cfg" / "settings.py"
    text = settings.read_text().replace('"django.db.backends.postgresql"', '"django.db.backends.sqlite3"')
    settings.write_text(text.replace('"NAME": "', f'"NAME": "{tmp_path}/db-'))
    sh(proj, "manage.py", "migrate", "shop")
    (proj / "shop" / "models.py").write_text(MODELS_V3.replace("sku = models.CharField(max_length=20, "
                                                               'default="none")', ""))
    sh(proj, "manage.py", "makemigrations", "shop", "-n", "drop_price")
    doc = check("--django", str(proj))
    # SQLite has no ALTER COLUMN: Django rebuilds the table; the SQL is read with the sqlite dialect
    assert [f["path"] for f in doc["files"]] == ["shop.0002_drop_price"]  # type: ignore[index]
    [report] = doc["files"]  # type: ignore[attr-defined]
    assert {s["kind"] for s in report["statements"]} >= {"Alter", "Create"}  # sqlglot's nodes, not pglast's
    assert "drop-column" in rules(doc)["shop.0002_drop_price"]


ENV = '''
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = engine_from_config(config.get_section(config.config_ini_section), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
'''
REVISIONS = {
    "a1": ("None", """op.create_table("account", sa.Column("id", sa.Integer, primary_key=True),
                   sa.Column("email", sa.String(50)), sa.Column("n", sa.Integer))"""),
    "b2": ("'a1'", """op.alter_column("account", "email", type_=sa.String(200))
    op.alter_column("account", "n", type_=sa.BigInteger)
    op.create_index("ix_account_email", "account", ["email"])"""),
    "c3": ("'b2'", """op.drop_column("account", "n")"""),
}


def alembic_project(root: Path, url: str) -> Path:
    (root / "migrations" / "versions").mkdir(parents=True)
    ini = root / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = migrations\n"
                   f"sqlalchemy.url = {url.replace('postgresql://', 'postgresql+psycopg://')}\n")
    (root / "migrations" / "env.py").write_text(ENV)
    (root / "migrations" / "script.py.mako").write_text("")
    for rev, (down, body) in REVISIONS.items():
        (root / "migrations" / "versions" / f"{rev}.py").write_text(
            f"import sqlalchemy as sa\nfrom alembic import op\n\nrevision = '{rev}'\ndown_revision = {down}\n"
            f"branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    {body}\n\n\n"
            "def downgrade():\n    pass\n")
    return ini


def test_alembic_checks_pending_revisions_with_the_applied_schema(database: str, tmp_path: Path) -> None:
    ini = alembic_project(tmp_path / "proj", database)
    sh(ini.parent, "-m", "alembic", "-c", str(ini), "upgrade", "a1")
    found = rules(check("--alembic", str(ini)))
    assert list(found) == ["b2", "c3"]
    # email varchar(50) -> varchar(200): coercible given a1's schema; n int -> bigint: a rewrite, not a break
    assert found["b2"] == ["column-type-rewrite", "create-index"]
    assert found["c3"] == ["drop-column"]
    sh(ini.parent, "-m", "alembic", "-c", str(ini), "upgrade", "head")
    assert rules(check("--alembic", str(ini))) == {}


def test_alembic_without_a_reachable_database_checks_every_revision(tmp_path: Path) -> None:
    ini = alembic_project(tmp_path / "proj", "postgresql://nobody@127.0.0.1:1/none")
    doc = check("--alembic", str(ini))
    assert list(rules(doc)) == ["a1", "b2", "c3"]
    # a1 creates the table, so b2 still knows email was varchar(50)
    assert rules(doc)["b2"] == ["column-type-rewrite", "create-index"]
    assert any("every revision counts as pending" in n for n in doc["notes"])  # type: ignore[attr-defined]


def test_alembic_offline_output_splits_per_revision() -> None:
    sql = ("BEGIN;\n\nCREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);\n\n"
           "-- Running upgrade  -> a1\n\nCREATE TABLE t (id int);\n\n"
           "-- Running upgrade a1 -> b2\n\nALTER TABLE t ADD COLUMN x int;\n\nCOMMIT;\n")
    parts = _split(sql)
    assert [name for name, _ in parts] == ["a1", "b2"]
    assert "alembic_version" in parts[0][1] and "COMMIT" in parts[1][1]
    assert parts[1][1].count("\n") == sql.count("\n")  # padded: lines point into the whole output
