"""PostgreSQL text -> statements with lines, through pglast (PostgreSQL's own grammar).

Also digs the SQL out of DO blocks, which run at migration time (function bodies do not, so they
are not checked), including dynamic `EXECUTE 'ALTER ...'` / `EXECUTE format('... %I ...', x)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pglast
from pglast import ast, enums, parse_sql
from pglast.parser import ParseError

from turnout.migrate.context import line_of
from turnout.migrate.findings import SqlError, SqlParseError

__all__ = ["SqlParseError", "Statement", "do_block_sql", "dynamic_sql", "ident", "non_transactional", "qualname",
           "rel_name", "statements", "volatile_call"]

DYNAMIC = "__dyn__"  # stands for the parts of dynamic SQL only known at run time
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")


@dataclass(frozen=True)
class Statement:
    node: Any
    line: int
    column: int
    end_line: int
    text: str


def statements(text: str) -> list[Statement]:
    try:
        raws = parse_sql(text)
    except ParseError as exc:
        # pglast gives no offset for an error at the end of the input ("SELECT 1 FROM"): point there
        at = exc.args[1] if len(exc.args) > 1 else None
        message, offset = exc.args[0], len(text.rstrip()) if at is None else int(at)
        line, col = line_of(text, max(offset, 0))
        raise SqlParseError(SqlError(line, col, str(message))) from None
    out = []
    for raw in raws:
        start = raw.stmt_location or 0
        end = start + raw.stmt_len if raw.stmt_len else len(text)
        line, col = line_of(text, start)
        out.append(Statement(raw.stmt, line, col, line_of(text, max(start, end - 1))[0], text[start:end]))
    return out


@dataclass(frozen=True)
class BlockSql:
    line: int
    sql: str  # empty when dynamic SQL could not be reconstructed
    dynamic: bool
    in_loop: bool  # runs once per loop iteration, all inside the DO block's single transaction


def do_block_sql(node: Any, stmt: Statement) -> Iterator[BlockSql]:
    """Each SQL statement a plpgsql DO block executes."""
    body, lang = "", "plpgsql"
    for arg in node.args or ():
        if arg.defname == "as":
            body = arg.arg.sval
        elif arg.defname == "language":
            lang = arg.arg.sval
    if lang.lower() != "plpgsql" or not body:
        return
    base = stmt.line + stmt.text[: max(stmt.text.find(body), 0)].count("\n")
    tag = "$__turnout_do$"
    try:
        tree = pglast.parse_plpgsql(f"CREATE FUNCTION __turnout_do() RETURNS void LANGUAGE plpgsql AS {tag}{body}{tag}")
    except ParseError as exc:
        raise SqlParseError(SqlError(stmt.line, stmt.column, f"in DO block: {exc.args[0]}")) from None
    for kind, lineno, query, in_loop in _walk(tree, False):
        line = base + max(lineno, 1) - 1
        if kind == "static":
            yield BlockSql(line, query, False, in_loop)
        else:
            yield BlockSql(line, dynamic_sql(query) or "", True, in_loop)


_LOOPS = frozenset({"PLpgSQL_stmt_loop", "PLpgSQL_stmt_while", "PLpgSQL_stmt_fori", "PLpgSQL_stmt_fors",
                    "PLpgSQL_stmt_forc", "PLpgSQL_stmt_foreach_a", "PLpgSQL_stmt_dynfors"})


def _walk(node: Any, in_loop: bool) -> Iterator[tuple[str, int, str, bool]]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, in_loop)
    elif isinstance(node, dict):
        if "PLpgSQL_stmt_execsql" in node:
            s = node["PLpgSQL_stmt_execsql"]
            yield "static", s.get("lineno", 1), s["sqlstmt"]["PLpgSQL_expr"]["query"], in_loop
        elif "PLpgSQL_stmt_dynexecute" in node:
            s = node["PLpgSQL_stmt_dynexecute"]
            yield "dynamic", s.get("lineno", 1), s["query"]["PLpgSQL_expr"]["query"], in_loop
        else:
            for key, value in node.items():
                yield from _walk(value, in_loop or key in _LOOPS)


_FORMAT_SPEC = re.compile(r"%(\d+\$)?([IsL])")


def dynamic_sql(expr: str) -> str | None:
    """The SQL of an EXECUTE expression, with run-time parts replaced by a placeholder name."""
    try:
        target = parse_sql(f"SELECT {expr}")[0].stmt.targetList[0].val  # type: ignore[union-attr]
    except (ParseError, AttributeError, IndexError, TypeError):
        return None
    if isinstance(target, ast.FuncCall) and (target.funcname or ())[-1].sval == "format" and target.args:
        first = _const(target.args[0])
        if first is None:
            return None
        return _FORMAT_SPEC.sub(lambda m: f"'{DYNAMIC}'" if m.group(2) == "L" else DYNAMIC, first)
    return _concat(target)


def _const(node: Any) -> str | None:
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return str(node.val.sval)
    return None


def _concat(node: Any) -> str | None:
    if (text := _const(node)) is not None:
        return text
    if isinstance(node, ast.A_Expr) and node.name and tuple(node.name)[-1].sval == "||":
        left, right = _concat(node.lexpr), _concat(node.rexpr)
        if left is None and right is None:
            return None
        return (left if left is not None else DYNAMIC) + (right if right is not None else DYNAMIC)
    return None


# Functions whose value is fixed for the statement, so ADD COLUMN ... DEFAULT f() is instant (PG 11+).
NON_VOLATILE = frozenset({
    "now", "transaction_timestamp", "statement_timestamp", "current_setting", "lower", "upper", "btrim",
    "concat", "jsonb_build_object", "jsonb_build_array", "json_build_object", "json_build_array", "to_jsonb",
    "to_json", "make_interval", "make_date", "date_trunc", "timezone", "length", "abs", "round", "array",
})


def volatile_call(expr: Any) -> str | None:
    """The first call in `expr` that may be volatile (unknown functions count as volatile)."""
    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, ast.FuncCall):
            name = (node.funcname or ())[-1].sval
            if name not in NON_VOLATILE:
                found.append(name)
        if isinstance(node, ast.Node):
            for attr in node:
                visit(getattr(node, attr))
        elif isinstance(node, list | tuple):
            for item in node:
                visit(item)

    visit(expr)
    return f"{found[0]}()" if found else None


def ident(name: str) -> str:
    if name == DYNAMIC:
        return "<dynamic>"
    return name if _PLAIN.fullmatch(name) else '"' + name.replace('"', '""') + '"'


def rel_name(rel: Any) -> str:
    return ".".join(ident(n) for n in (rel.schemaname, rel.relname) if n)


def qualname(obj: Any) -> str:
    if isinstance(obj, list | tuple):
        return ".".join(qualname(o) for o in obj)
    if isinstance(obj, ast.String):
        return ident(str(obj.sval))
    if isinstance(obj, ast.ObjectWithArgs):
        return qualname(obj.objname)
    if isinstance(obj, ast.TypeName):
        return qualname(obj.names)
    return str(obj)


def non_transactional(node: Any) -> str | None:
    if isinstance(node, ast.IndexStmt) and node.concurrent:
        return "CREATE INDEX CONCURRENTLY"
    if isinstance(node, ast.DropStmt) and node.concurrent:
        return "DROP INDEX CONCURRENTLY"
    if isinstance(node, ast.ReindexStmt) and any(p.defname == "concurrently" for p in node.params or ()):
        return "REINDEX CONCURRENTLY"
    if isinstance(node, ast.VacuumStmt) and node.is_vacuumcmd:
        return "VACUUM"
    if isinstance(node, ast.CreatedbStmt | ast.DropdbStmt):
        return "CREATE/DROP DATABASE"
    if isinstance(node, ast.AlterTableStmt):
        for cmd in node.cmds or ():
            if cmd.subtype == enums.AlterTableType.AT_DetachPartition and getattr(cmd.def_, "concurrent", False):
                return "DETACH PARTITION CONCURRENTLY"
    return None
