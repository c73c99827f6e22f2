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

# What a type change means for code written against the old type, judged apart from its lock cost:
#   same / coercible: nothing changes for readers and writers; no rewrite (binary-coercible)
#   widening: every old value and every value old code writes still fits; the table is rewritten
#   narrowing: old code can write values that no longer fit (errors or truncation)
#   representation: values come back in another form (int -> text, text -> jsonb, USING ...)
Kind = Literal["same", "coercible", "widening", "narrowing", "representation"]


@dataclass(frozen=True)
class TypeChange:
    kind: Kind
    assumed: str | None = None  # set when the old type was unknown and had to be assumed

    @property
    def breaks(self) -> bool:
        return self.kind in ("narrowing", "representation")

    @property
    def rewrites(self) -> bool:
        return self.kind not in ("same", "coercible")


# Old type -> new types that hold every old value, so old readers and writers keep working.
_WIDENING = {
    "int2": {"int4", "int8", "numeric", "float4", "float8"}, "int4": {"int8", "numeric", "float8"},
    "int8": {"numeric"}, "float4": {"float8"}, "json": {"jsonb"}, "bpchar": {"varchar", "text"},
    "timestamp": {"timestamptz"}, "timestamptz": {"timestamp"}, "date": {"timestamp", "timestamptz"},
    "varchar": {"text"}, "text": {"varchar"}, "cidr": {"inet"}, "time": {"timetz", "interval"},
}
_NARROWING = {"int8": {"int2", "int4"}, "int4": {"int2"}, "float8": {"float4"}, "numeric": {"int2", "int4", "int8"},
              "timestamptz": {"date"}, "timestamp": {"date"}, "text": {"bpchar"}, "varchar": {"bpchar"}}
_TEXTUAL = {"varchar", "text"}
_SERIAL = {"serial": "int4", "serial4": "int4", "bigserial": "int8", "serial8": "int8", "smallserial": "int2",
           "serial2": "int2"}
_PRECISION = {"timestamp", "timestamptz", "time", "timetz", "interval"}
# Without USING, PostgreSQL only converts through an assignment cast, so a change written without
# one is most likely a widening to the target. What is assumed for each target when the old type is unknown:
_ASSUMED_SOURCE = {
    "varchar": ("a shorter varchar", "coercible"), "text": ("varchar", "coercible"),
    "int8": ("integer or smallint", "widening"), "int4": ("smallint", "widening"),
    "numeric": ("an integer or a numeric of lower precision", "widening"), "float8": ("real or an integer", "widening"),
    "timestamptz": ("timestamp", "widening"), "jsonb": ("json", "widening"), "inet": ("cidr", "coercible"),
}


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
    constraints: dict[str, str] = field(default_factory=dict)  # name -> kind (check, foreign key, unique, ...)

    def proven_not_null(self, column: str) -> bool:
        return any(col == column and valid for col, valid in self.not_null_checks.values())


def table_key(rel: Any) -> str:
    return f"{rel.schemaname or 'public'}.{rel.relname}"


def type_of(tn: Any) -> tuple[str, tuple[int, ...]]:
    name = _SERIAL.get(tn.names[-1].sval, tn.names[-1].sval)
    mods = tuple(int(m.val.ival or 0) for m in tn.typmods or ()
                 if isinstance(m, ast.A_Const) and isinstance(m.val, ast.Integer))
    return str(name) + "[]" * len(tn.arrayBounds or ()), mods



def _fits(old: tuple[int, ...], new: tuple[int, ...]) -> bool:
    """A length/precision modifier that keeps every old value (no modifier = unlimited)."""
    return not new or (bool(old) and new[0] >= old[0])


def classify_type_change(old: Column | None, new: str, mods: tuple[int, ...], using: bool) -> TypeChange:
    """What old code can still do after `old` becomes `new` (the rewrite follows from the kind)."""
    if old is None:
        if using:
            return TypeChange("representation", "USING converts the values, so their representation changes")
        source, kind = _ASSUMED_SOURCE.get(new, (None, None))
        if source is None or kind is None:
            return TypeChange("representation", "the old type is unknown")
        if new == "varchar" and not mods:
            kind = "coercible"
        return TypeChange(kind, source)  # type: ignore[arg-type]
    if old.type == new and old.mods == mods:
        return TypeChange("same")
    if old.type == new:
        if new == "numeric" and old.mods and mods:
            old_int, new_int = old.mods[0] - (old.mods[1:] or (0,))[0], mods[0] - (mods[1:] or (0,))[0]
            if new_int < old_int or (mods[1:] or (0,))[0] < (old.mods[1:] or (0,))[0]:
                return TypeChange("narrowing")
            same_scale = (mods[1:] or (0,))[0] == (old.mods[1:] or (0,))[0]
            return TypeChange("coercible" if same_scale else "widening")
        if new in ("varchar", "varbit", "numeric") or new in _PRECISION:
            return TypeChange("coercible" if _fits(old.mods, mods) else "narrowing")
        if new == "bpchar":
            return TypeChange("widening" if _fits(old.mods, mods) else "narrowing")
        return TypeChange("representation")
    if using:
        return TypeChange("representation")
    if old.type in _TEXTUAL and new == "text":
        return TypeChange("coercible")
    if old.type == "text" and new == "varchar":
        return TypeChange("coercible" if not mods else "narrowing")
    if (old.type, new) in {("cidr", "inet"), ("bpchar", "text")}:
        return TypeChange("coercible" if new == "inet" else "widening")
    if new in _WIDENING.get(old.type, ()):
        return TypeChange("widening")
    if new in _NARROWING.get(old.type, ()):
        return TypeChange("narrowing")
    return TypeChange("representation")


class Catalog:
    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}
        self.trigger_functions: set[str] = set()  # functions that return trigger: only triggers call them

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
                elif isinstance(elt, ast.Constraint):
                    self._constraint(table, str(node.relation.relname), elt)
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
        elif isinstance(node, ast.CreateFunctionStmt) and node.returnType is not None and node.returnType.names:
            if node.returnType.names[-1].sval in ("trigger", "event_trigger"):
                self.trigger_functions.add(function_key(node.funcname))
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
                self._constraint(table, key.split(".", 1)[1], cmd.def_)
            elif st == T.AT_ValidateConstraint and col in table.not_null_checks:
                table.not_null_checks[col] = (table.not_null_checks[col][0], True)
            elif st == T.AT_DropConstraint:
                table.not_null_checks.pop(col, None)
                table.constraints.pop(col, None)

    @staticmethod
    def _constraint(table: Table, relname: str, con: Any) -> None:
        C = enums.ConstrType
        kind = {C.CONSTR_CHECK: "check", C.CONSTR_FOREIGN: "foreign key", C.CONSTR_UNIQUE: "unique",
                C.CONSTR_PRIMARY: "primary key", C.CONSTR_EXCLUSION: "exclusion"}.get(con.contype)
        if kind is None:
            return
        nn = not_null_check_column(con)
        # PostgreSQL's own name for an unnamed CHECK on one column: <table>_<column>_check
        name = con.conname or (f"{relname}_{nn}_check" if nn else f"{relname}_{kind.split()[0]}")
        table.constraints[str(name)] = kind
        if nn is not None:
            table.not_null_checks[str(name)] = (nn, not con.skip_validation)

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


def column_from_definition(definition: str) -> Column | None:
    """`varchar(100) NOT NULL` -> Column, through PostgreSQL's grammar; None if it does not parse."""
    from pglast.parser import ParseError

    try:
        node = parse_sql(f"CREATE TABLE _t (_c {definition})")[0].stmt
    except ParseError:
        return None
    elt = (node.tableElts or (None,))[0]  # type: ignore[union-attr]
    return _column(elt) if isinstance(elt, ast.ColumnDef) else None


def function_key(names: Any) -> str:
    parts = [n.sval for n in names]
    return ".".join(parts) if len(parts) > 1 else f"public.{parts[0]}"


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
