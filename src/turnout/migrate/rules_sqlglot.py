"""MySQL and SQLite rules, through sqlglot. MySQL facts are InnoDB 8.0 online DDL's (docs/migrations.md).

sqlglot parses what it does not understand as an opaque `Command`; a Command we cannot classify
is reported as an error rather than passed, so an ALTER never slips through unread.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from turnout.migrate.context import Span, line_of
from turnout.migrate.findings import Finding, ObjectRef, SqlError, StatementInfo, Verdict
from turnout.migrate.pg_parse import SqlParseError
from turnout.migrate.rules import RULES

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its "falling back to Command" warnings are ours to report
_DELIMITER = re.compile(r"^[ \t]*DELIMITER[ \t]+(\S+)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_INTS = ["TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT"]
_SAFE_COMMANDS = re.compile(r"^(CREATE\s+(DEFINER\S*\s+)?(TRIGGER|PROCEDURE|FUNCTION|EVENT|(OR\s+REPLACE\s+)?"
                            r"(ALGORITHM\S*\s+)?VIEW)|DROP\s+TRIGGER|SET|USE|SHOW|GRANT|FLUSH|ANALYZE|OPTIMIZE)\b",
                            re.IGNORECASE)


@dataclass
class SqlglotResult:
    findings: list[Finding] = field(default_factory=list)
    statements: list[StatementInfo] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def chunks(text: str, dialect: str) -> list[tuple[int, str]]:
    """(offset, statement text) pairs; honours the mysql client's DELIMITER for trigger/procedure bodies."""
    out: list[tuple[int, str]] = []
    pos, delim = 0, ";"
    marks: list[re.Match[str] | None] = [*_DELIMITER.finditer(text), None]
    for m in marks:
        end = m.start() if m else len(text)
        seg = text[pos:end]
        if delim == ";":
            out.extend(_split_tokens(text, pos, end, dialect))
        else:
            off = pos
            for part in seg.split(delim):
                if part.strip():
                    out.append((off + len(part) - len(part.lstrip()), part.strip()))
                off += len(part) + len(delim)
        if m:
            pos, delim = m.end(), m.group(1)
    return out


def _split_tokens(text: str, base: int, end: int, dialect: str) -> list[tuple[int, str]]:
    seg = text[base:end]
    try:
        tokens = sqlglot.tokenize(seg, read=dialect)
    except TokenError as exc:
        line, col = line_of(text, base + len(seg) - len(seg.lstrip()))
        raise SqlParseError(SqlError(line, col, f"cannot tokenize: {exc}")) from None
    out, start = [], None
    for tok in tokens:
        if tok.token_type == sqlglot.TokenType.SEMICOLON:
            if start is not None:
                out.append((base + start, seg[start:tok.start]))
            start = None
        elif start is None:
            start = tok.start
    if start is not None:
        out.append((base + start, seg[start:]))
    return out


class SqlglotChecker:
    def __init__(self, text: str, dialect: str, schema: dict[str, dict[str, tuple[str, bool]]] | None = None) -> None:
        self.text, self.dialect = text, dialect
        self.columns: dict[str, dict[str, tuple[str, bool]]] = schema if schema is not None else {}
        self.created: set[str] = set()
        self.res = SqlglotResult()

    def run(self) -> SqlglotResult:
        for offset, sql in chunks(self.text, self.dialect):
            line, col = line_of(self.text, offset)
            try:
                tree = sqlglot.parse_one(sql, read=self.dialect)
            except ParseError as exc:
                err = exc.errors[0] if exc.errors else {}
                raise SqlParseError(SqlError(line + int(err.get("line", 1)) - 1, int(err.get("col", col)),
                                             str(err.get("description", exc)))) from None
            before = len(self.res.findings)
            self.visit(tree, line, col, sql)
            verdict = Verdict.worst(f.verdict for f in self.res.findings[before:])
            self.res.statements.append(StatementInfo(line, type(tree).__name__, verdict))
            self.res.spans.append(Span(line, line + sql.count("\n")))
        return self.res

    def add(self, rule_id: str, line: int, **names: Any) -> None:
        self.res.findings.append(RULES[rule_id].finding(line, **names))

    def visit(self, tree: Any, line: int, col: int, sql: str) -> None:
        if isinstance(tree, exp.Create):
            target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
            if tree.kind == "TABLE" and isinstance(target, exp.Table):
                self.created.add(target.name)
                defs = tree.this.expressions if isinstance(tree.this, exp.Schema) else []
                self.columns[target.name] = {c.name: _coldef(c) for c in defs if isinstance(c, exp.ColumnDef)}
            elif tree.kind == "INDEX" and self.dialect == "sqlite" and target.args.get("table") is not None:
                on = target.args["table"].name
                if on not in self.created:
                    self.add("create-index", line, obj=target.name, table=on)
        elif isinstance(tree, exp.Drop):
            self.drop(tree, line)
        elif isinstance(tree, exp.TruncateTable):
            for t in tree.expressions:
                if t.name not in self.created:
                    self.add("truncate", line, table=t.name)
        elif isinstance(tree, exp.Delete) and not tree.args.get("where") and tree.this.name not in self.created:
            self.add("delete-all", line, table=tree.this.name)
        elif isinstance(tree, exp.Update) and tree.this.name not in self.created:
            where = tree.args.get("where")
            if where is None or isinstance(where.this, exp.Is):
                self.add("backfill-unbatched", line, kind="UPDATE", table=tree.this.name)
        elif isinstance(tree, exp.Alter) and tree.args.get("kind") == "TABLE":
            self.alter(tree, line)
        elif isinstance(tree, exp.Command):
            self.command(sql.strip(), line, col)

    def drop(self, tree: exp.Drop, line: int) -> None:
        kind = str(tree.args.get("kind") or "").upper()
        for t in tree.args.get("tables") or ():
            if t.name in self.created:
                continue
            if kind == "TABLE":
                self.add("drop-table", line, table=t.name, objects=(ObjectRef(t.name),))
            elif kind in ("DATABASE", "SCHEMA"):
                self.add("drop-schema", line, kind=kind.lower(), obj=t.name)
            elif kind in ("VIEW", "PROCEDURE", "FUNCTION"):
                self.add("drop-object", line, kind=kind.lower(), obj=t.name)

    def command(self, text: str, line: int, col: int) -> None:
        upper = " ".join(text.split()).upper()
        if m := re.match(r"RENAME TABLE (.+)", text, re.IGNORECASE | re.DOTALL):
            pairs = [tuple(p.strip().strip("`") for p in re.split(r"\s+TO\s+", x, flags=re.I))
                     for x in m.group(1).split(",")]
            if {p[0] for p in pairs} & {p[-1] for p in pairs}:
                return  # `a TO a_old, a_new TO a`: an atomic swap, the old name keeps working
            for src, *rest in pairs:
                if src not in self.created:
                    self.add("rename-table", line, table=src, new=rest[-1] if rest else "?",
                             objects=(ObjectRef(src, None, "rename"),))
        elif re.match(r"ALTER TABLE \S+ CONVERT TO CHARACTER SET", upper):
            self.add("mysql-table-copy", line, detail="CONVERT TO CHARACTER SET", table=upper.split()[2].strip("`"))
        elif re.match(r"CREATE (FULLTEXT|SPATIAL) INDEX", upper):
            self.add("mysql-table-copy", line, detail=f"A {upper.split()[1]} index build", table="the table")
        elif upper.startswith("LOCK TABLES"):
            self.add("lock-table", line, table=upper.split()[2].strip("`"), detail="LOCK TABLES")
        elif not _SAFE_COMMANDS.match(upper) and re.match(r"(ALTER|DROP|RENAME|CREATE)\b", upper):
            raise SqlParseError(SqlError(line, col, f"sqlglot could not parse this statement ({upper[:60]}...); "
                                         "turnout will not guess what it does"))

    def alter(self, tree: exp.Alter, line: int) -> None:
        table = tree.this.name
        if table in self.created:
            return
        cols = self.columns.setdefault(table, {})
        for opt in tree.args.get("options") or ():
            value = opt.this.name.upper() if opt.this is not None else ""
            if isinstance(opt, exp.AlgorithmProperty) and value == "COPY":
                self.add("mysql-table-copy", line, detail="ALGORITHM=COPY", table=table)
            elif isinstance(opt, exp.LockProperty) and value in ("SHARED", "EXCLUSIVE"):
                self.add("lock-table", line, table=table, detail=f"LOCK={value}")
            elif isinstance(opt, exp.EngineProperty | exp.PartitionByRangeProperty):
                self.add("mysql-table-copy", line, detail=opt.sql("mysql"), table=table)
        for act in tree.args.get("actions") or ():
            if isinstance(act, exp.ColumnDef):
                self.add_column(act, table, line)
                cols[act.name] = _coldef(act)
            elif isinstance(act, exp.ModifyColumn):
                cd = act.this
                old_name = act.args.get("rename_from")
                old = old_name.name if old_name is not None else cd.name
                if old != cd.name:
                    self.add("rename-column", line, table=table, column=old, new=cd.name,
                             objects=(ObjectRef(table, old, "rename"),))
                self.modify(table, cd.name, cols.get(old), _coldef(cd), line)
                cols[cd.name] = _coldef(cd)
            elif isinstance(act, exp.RenameColumn):
                old, new = act.this.name, act.args["to"].name
                self.add("rename-column", line, table=table, column=old, new=new,
                         objects=(ObjectRef(table, old, "rename"),))
            elif isinstance(act, exp.AlterRename):
                self.add("rename-table", line, table=table, new=act.this.name,
                         objects=(ObjectRef(table, None, "rename"),))
            elif isinstance(act, exp.Drop):
                self.alter_drop(act, table, line)
            elif isinstance(act, exp.DropPrimaryKey):
                if not any(isinstance(a, exp.AddConstraint) and a.find(exp.PrimaryKey) for a in tree.args["actions"]):
                    self.add("mysql-table-copy", line, detail="DROP PRIMARY KEY", table=table)
            elif isinstance(act, exp.AddConstraint):
                self.add_constraint(act, table, line)
            elif isinstance(act, exp.AlterColumn) and act.args.get("drop"):
                self.add("drop-default", line, table=table, column=act.this.name)
            elif isinstance(act, exp.ForceProperty):
                self.add("mysql-table-copy", line, detail="ALTER TABLE ... FORCE (a rebuild)", table=table)

    def add_column(self, cd: exp.ColumnDef, table: str, line: int) -> None:
        kinds = {type(c.kind): c.kind for c in cd.args.get("constraints") or ()}
        nn = kinds.get(exp.NotNullColumnConstraint)
        default = kinds.get(exp.DefaultColumnConstraint)
        auto = exp.AutoIncrementColumnConstraint in kinds
        if nn is not None and not nn.args.get("allow_null") and default is None and not auto:
            self.add("add-column-required", line, table=table, column=cd.name)
        if auto:
            self.add("mysql-table-copy", line, detail=f"ADD COLUMN {cd.name} AUTO_INCREMENT", table=table)
        elif default is not None and isinstance(default.this, exp.Paren):
            self.add("mysql-table-copy", line, detail=f"ADD COLUMN {cd.name} with an expression default", table=table)

    def modify(self, table: str, column: str, old: tuple[str, bool] | None, new: tuple[str, bool], line: int) -> None:
        if old is None:
            self.add("change-column-type", line, table=table, column=column, type=new[0],
                     detail=" (old definition unknown: pass --schema to tell a safe change apart)")
            self.add("mysql-table-copy", line, detail=f"MODIFY/CHANGE COLUMN {column} (old definition unknown)",
                     table=table)
            return
        if old[1] != new[1]:
            self.add("set-not-null" if new[1] else "drop-not-null", line, table=table, column=column)
        change = _mysql_type_change(old[0], new[0])
        if change == "incompatible":
            self.add("change-column-type", line, table=table, column=column, type=new[0], detail=f" (was {old[0]})")
        if change in ("incompatible", "copy"):
            self.add("mysql-table-copy", line, detail=f"Changing {column} from {old[0]} to {new[0]}", table=table)

    def alter_drop(self, act: exp.Drop, table: str, line: int) -> None:
        kind = str(act.args.get("kind") or "").upper()
        for t in act.args.get("tables") or ():
            if kind == "COLUMN":
                self.add("drop-column", line, table=table, column=t.name, objects=(ObjectRef(table, t.name),))
            elif kind in ("FOREIGN KEY", "CHECK", "CONSTRAINT"):
                self.add("drop-constraint", line, obj=t.name, table=table)

    def add_constraint(self, act: exp.AddConstraint, table: str, line: int) -> None:
        for con in act.expressions:
            if con.find(exp.ForeignKey):
                self.add("add-foreign-key", line, obj=con.name or "(unnamed)", table=table, ref="the parent table",
                         message="Adding foreign key {obj} on {table} copies the table (ALGORITHM=COPY) unless "
                                 "foreign_key_checks=0, blocking writes.")
            elif con.find(exp.CheckColumnConstraint):
                self.add("add-check-constraint", line, obj=con.name or "(unnamed)", table=table,
                         message="Adding CHECK constraint {obj} copies {table}, blocking writes.")
            elif isinstance(con, exp.IndexColumnConstraint) and str(con.args.get("kind") or "").upper() in (
                    "FULLTEXT", "SPATIAL"):
                self.add("mysql-table-copy", line, detail=f"A {con.args['kind']} index build", table=table)


def _coldef(cd: exp.ColumnDef) -> tuple[str, bool]:
    kind = cd.args.get("kind")
    nn = any((isinstance(c.kind, exp.NotNullColumnConstraint) and not c.kind.args.get("allow_null"))
             or isinstance(c.kind, exp.PrimaryKeyColumnConstraint) for c in cd.args.get("constraints") or ())
    return (kind.sql("mysql") if kind is not None else "?"), nn


def _mysql_type_change(old: str, new: str) -> str:
    """same / instant / copy (compatible widening that copies the table) / incompatible."""
    if old == new:
        return "same"
    o, n = re.match(r"(\w+)(?:\((\d+)\))?", old), re.match(r"(\w+)(?:\((\d+)\))?", new)
    if not o or not n:
        return "incompatible"
    ot, nt = o.group(1).upper(), n.group(1).upper()
    if ot == nt == "VARCHAR" and o.group(2) and n.group(2) and int(n.group(2)) >= int(o.group(2)):
        # utf8mb4: the length prefix grows from 1 to 2 bytes past 63 characters, which forces a copy
        return "same" if (int(o.group(2)) <= 63) == (int(n.group(2)) <= 63) else "copy"
    if ot in _INTS and nt in _INTS and _INTS.index(nt) >= _INTS.index(ot):
        return "copy"
    return "incompatible"


def schema_from_sql(text: str, dialect: str) -> dict[str, dict[str, tuple[str, bool]]]:
    """Column definitions from CREATE TABLE / ALTER TABLE statements of a MySQL/SQLite schema file."""
    checker = SqlglotChecker(text, dialect)
    checker.run()
    return checker.columns
