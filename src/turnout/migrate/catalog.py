"""What the checker knows about the existing schema: column types, NOT NULL, NOT NULL checks.

Linters see one file and cannot tell `varchar(50) -> text` (instant) from `int -> text` (rewrite,
breaks readers). The catalog comes from a schema file (`--schema`, e.g. `pg_dump -s`), from a live
database (`--database`), and from the statements of the files already checked in the run.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Literal

from pglast import ast, enums, parse_sql

TypeChange = Literal["same", "coercible", "widening", "incompatible", "unknown"]

# Old type -> new types it converts to with a rewrite but without breaking readers of the old type.
_WIDENING = {
    "int2": {"int4", "int8", "numeric", "float8"}, "int4": {"int8", "numeric", "float8"},
    "int8": {"numeric"}, "float4": {"float8"}, "json": {"jsonb"}, "bpchar": {"varchar", "text"},
    "timestamp": {"timestamptz"}, "timestamptz": {"timestamp"}, "date": {"timestamp", "timestamptz"},
}
_TEXTUAL = {"varchar", "text"}
_SERIAL = {"serial": "int4", "serial4": "int4", "bigserial": "int8", "serial8": "int8", "smallserial": "int2",
           "serial2": "int2"}
_PRECISION = {"timestamp", "timestamptz", "time", "timetz", "interval"}


@dataclass
class Column:
    type: str
    mods: tuple[int, ...] = ()
    not_null: bool = False
    has_default: bool = False


@dataclass
class Table:
    columns: dict[str, Column] = field(default_factory=dict)
    not_null_checks: dict[str, tuple[str, bool]] = field(default_factory=dict)  # name -> (column, valid)

    def proven_not_null(self, column: str) -> bool:
        return any(col == column and valid for col, valid in self.not_null_checks.values())


def table_key(rel: Any) -> str:
    return f"{rel.schemaname or 'public'}.{rel.relname}"


def type_of(tn: Any) -> tuple[str, tuple[int, ...]]:
    name = _SERIAL.get(tn.names[-1].sval, tn.names[-1].sval)
    mods = tuple(int(m.val.ival or 0) for m in tn.typmods or ()
                 if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer))
    return str(name) + "[]" * len(tn.arrayBounds or ()), mods


def classify_type_change(old: Column | None, new: str, mods: tuple[int, ...], using: bool) -> TypeChange:
    """How PostgreSQL converts `old` to `new`: a catalog-only change, a compatible rewrite, or worse."""
    if old is None:
        return "unknown"
    if old.type == new and old.mods == mods and not using:
        return "same"
    if using and old.type != new:
        return "incompatible"
    if old.type in _TEXTUAL and new == "text":
        return "coercible"
    if old.type == "varchar" and new == "varchar" and (not mods or (old.mods and mods[0] >= old.mods[0])):
        return "coercible"
    if old.type == new == "numeric" and (not mods or (old.mods and len(mods) == 2 and len(old.mods) == 2
                                                      and mods[1] == old.mods[1] and mods[0] >= old.mods[0])):
        return "coercible"
    if old.type == new and new in _PRECISION and (not mods or (old.mods and mods[0] >= old.mods[0])):
        return "coercible"
    if (old.type, new) in {("cidr", "inet"), ("varbit", "varbit")}:
        return "coercible"
    if new in _WIDENING.get(old.type, ()):
        return "widening"
    return "incompatible"


class Catalog:
    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}

    def copy(self) -> Catalog:
        return copy.deepcopy(self)

    def column(self, table: str, column: str) -> Column | None:
        t = self.tables.get(table)
        return t.columns.get(column) if t else None

    # -- updates from PostgreSQL DDL (the rules call this after judging each statement) ----------
    def apply(self, node: Any) -> None:
        if isinstance(node, ast.CreateStmt) and node.relation is not None:
            table = self.tables.setdefault(table_key(node.relation), Table())
            for elt in node.tableElts or ():
                if isinstance(elt, ast.ColumnDef):
                    table.columns[str(elt.colname)] = _column(elt)
                elif isinstance(elt, ast.Constraint) and (nn := not_null_check_column(elt)) is not None:
                    table.not_null_checks[elt.conname or f"{nn}_not_null"] = (nn, not elt.skip_validation)
        elif isinstance(node, ast.AlterTableStmt) and node.relation is not None:
            self._alter(table_key(node.relation), node.cmds or ())
        elif isinstance(node, ast.RenameStmt) and node.relation is not None:
            key = table_key(node.relation)
            if node.renameType == enums.ObjectType.OBJECT_COLUMN and key in self.tables:
                cols = self.tables[key].columns
                if node.subname in cols:
                    cols[str(node.newname)] = cols.pop(node.subname)
            elif node.renameType == enums.ObjectType.OBJECT_TABLE and key in self.tables:
                self.tables[f"{key.split('.')[0]}.{node.newname}"] = self.tables.pop(key)
        elif isinstance(node, ast.DropStmt) and node.removeType == enums.ObjectType.OBJECT_TABLE:
            for obj in node.objects or ():
                names = [n.sval for n in obj]
                self.tables.pop(".".join(names) if len(names) > 1 else f"public.{names[0]}", None)

    def _alter(self, key: str, cmds: Any) -> None:
        table = self.tables.setdefault(key, Table())
        T = enums.AlterTableType
        for cmd in cmds:
            st, col = cmd.subtype, str(cmd.name)
            if st == T.AT_AddColumn and isinstance(cmd.def_, ast.ColumnDef):
                table.columns[str(cmd.def_.colname)] = _column(cmd.def_)
            elif st == T.AT_DropColumn:
                table.columns.pop(col, None)
            elif st == T.AT_AlterColumnType and isinstance(cmd.def_, ast.ColumnDef) and col in table.columns:
                name, mods = type_of(cmd.def_.typeName)
                table.columns[col].type, table.columns[col].mods = name, mods
            elif st in (T.AT_SetNotNull, T.AT_DropNotNull) and col in table.columns:
                table.columns[col].not_null = st == T.AT_SetNotNull
            elif st == T.AT_AddConstraint and isinstance(cmd.def_, ast.Constraint):
                con = cmd.def_
                if (nn := not_null_check_column(con)) is not None:
                    table.not_null_checks[con.conname or f"{nn}_not_null"] = (nn, not con.skip_validation)
            elif st == T.AT_ValidateConstraint and col in table.not_null_checks:
                table.not_null_checks[col] = (table.not_null_checks[col][0], True)
            elif st == T.AT_DropConstraint:
                table.not_null_checks.pop(col, None)

    # -- loaders ----------------------------------------------------------------------------------
    @classmethod
    def from_sql(cls, text: str) -> Catalog:
        """A catalog from DDL such as `pg_dump --schema-only` output (other statements are skipped)."""
        cat = cls()
        for raw in parse_sql(text):
            cat.apply(raw.stmt)
        return cat

    @classmethod
    def from_rows(cls, columns: list[tuple[Any, ...]], checks: list[tuple[Any, ...]]) -> Catalog:
        """From `COLUMNS_SQL` / `CHECKS_SQL` rows of a live database."""
        cat = cls()
        for schema, rel, name, typname, typmod, not_null, has_default in columns:
            typ = typname[1:] + "[]" if typname.startswith("_") else typname
            cat.tables.setdefault(f"{schema}.{rel}", Table()).columns[name] = Column(
                typ, _mods(typ, typmod), bool(not_null), bool(has_default))
        for schema, rel, conname, column, valid in checks:
            cat.tables.setdefault(f"{schema}.{rel}", Table()).not_null_checks[conname] = (column, bool(valid))
        return cat


COLUMNS_SQL = """
SELECT n.nspname, c.relname, a.attname, t.typname, a.atttypmod, a.attnotnull, a.atthasdef
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
"""
CHECKS_SQL = """
SELECT n.nspname, c.relname, k.conname,
       substring(pg_get_constraintdef(k.oid) from '^CHECK \\(\\(?"?([^" )]+)"? IS NOT NULL'), k.convalidated
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'c' AND pg_get_constraintdef(k.oid) ~ '^CHECK \\(\\(?"?[^" )]+"? IS NOT NULL\\)\\)?$'
"""


def not_null_check_column(con: Any) -> str | None:
    """The column of `CHECK (col IS NOT NULL)`, else None."""
    expr = con.raw_expr
    if con.contype != enums.ConstrType.CONSTR_CHECK or not isinstance(expr, ast.NullTest):
        return None
    if expr.nulltesttype != enums.NullTestType.IS_NOT_NULL or not isinstance(expr.arg, ast.ColumnRef):
        return None
    last = (expr.arg.fields or (None,))[-1]
    return str(last.sval) if isinstance(last, ast.String) else None


def _column(cd: Any) -> Column:
    name, mods = type_of(cd.typeName)
    kinds = {c.contype for c in cd.constraints or ()}
    C = enums.ConstrType
    return Column(name, mods, bool(cd.is_not_null) or bool(kinds & {C.CONSTR_NOTNULL, C.CONSTR_PRIMARY}),
                  bool(kinds & {C.CONSTR_DEFAULT, C.CONSTR_IDENTITY, C.CONSTR_GENERATED}))


def _mods(typ: str, typmod: int) -> tuple[int, ...]:
    if typmod < 0:
        return ()
    if typ in ("varchar", "bpchar"):
        return (typmod - 4,)
    if typ == "numeric":
        return ((typmod - 4) >> 16, (typmod - 4) & 0xFFFF)
    return (typmod,)
