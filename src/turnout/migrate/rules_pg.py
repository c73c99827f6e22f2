"""PostgreSQL rules: walk pglast's parse tree statement by statement, with transaction and schema state.

State per file: tables created here (new and empty, so exempt), columns added here, the explicit or
implicit transaction and the heavy locks it holds, and the catalog (types, NOT NULL checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError

from turnout.migrate.catalog import Catalog, classify_type_change, not_null_check_column, table_key, type_of
from turnout.migrate.context import NO_TRANSACTION, CheckOptions, Span, TxMode
from turnout.migrate.findings import Finding, ObjectRef, StatementInfo, Verdict
from turnout.migrate.pg_parse import DYNAMIC, Statement, do_block_sql, statements, volatile_call
from turnout.migrate.rules import RULES

T, C, OT = enums.AlterTableType, enums.ConstrType, enums.ObjectType
_OBJ_KIND = {OT.OBJECT_VIEW: "view", OT.OBJECT_MATVIEW: "materialized view", OT.OBJECT_FUNCTION: "function",
             OT.OBJECT_PROCEDURE: "procedure", OT.OBJECT_ROUTINE: "routine", OT.OBJECT_TYPE: "type",
             OT.OBJECT_DOMAIN: "domain", OT.OBJECT_SEQUENCE: "sequence", OT.OBJECT_EXTENSION: "extension",
             OT.OBJECT_AGGREGATE: "aggregate", OT.OBJECT_SCHEMA: "schema", OT.OBJECT_TABLE: "table",
             OT.OBJECT_FOREIGN_TABLE: "foreign table"}
_HEAVY_LOCK = 5  # ShareLock and stronger block writes
# Migration tools' own version tables: updating them in the DDL transaction is not a backfill.
BOOKKEEPING = frozenset({"alembic_version", "schema_migrations", "django_migrations", "flyway_schema_history",
                         "goose_db_version", "schema_version", "knex_migrations", "_prisma_migrations",
                         "__EFMigrationsHistory", "ar_internal_metadata", "turnout_migrations"})
_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")


@dataclass
class PgResult:
    findings: list[Finding] = field(default_factory=list)
    statements: list[StatementInfo] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _ident(name: str) -> str:
    if name == DYNAMIC:
        return "<dynamic>"
    return name if _PLAIN.fullmatch(name) else '"' + name.replace('"', '""') + '"'


def _name(rel: Any) -> str:
    return ".".join(_ident(n) for n in (rel.schemaname, rel.relname) if n)


def _qualname(obj: Any) -> str:
    if isinstance(obj, list | tuple):
        return ".".join(_qualname(o) for o in obj)
    if isinstance(obj, ast.String):
        return _ident(str(obj.sval))
    if isinstance(obj, ast.ObjectWithArgs):
        return _qualname(obj.objname)
    if isinstance(obj, ast.TypeName):
        return _qualname(obj.names)
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
            if cmd.subtype == T.AT_DetachPartition and getattr(cmd.def_, "concurrent", False):
                return "DETACH PARTITION CONCURRENTLY"
    return None


class PgChecker:
    def __init__(self, text: str, opts: CheckOptions, catalog: Catalog | None = None) -> None:
        self.text, self.opts = text, opts
        self.catalog = catalog if catalog is not None else Catalog()
        self.res = PgResult()
        self.created: set[str] = set()  # tables and other objects created in this file
        self.added: set[tuple[str, str]] = set()
        self.made_not_null: set[tuple[str, str]] = set()
        self.in_tx = False
        self.locks: dict[str, int] = {}  # table -> strongest lock mode held in the current transaction
        self.stmts: list[Statement] = []

    def run(self) -> PgResult:
        self.stmts = statements(self.text)
        explicit = any(isinstance(s.node, ast.TransactionStmt) or non_transactional(s.node) for s in self.stmts)
        whole_file = self.opts.tx_mode is TxMode.FILE or (
            self.opts.tx_mode is TxMode.AUTO and not explicit and not NO_TRANSACTION.search(self.text))
        self.in_tx = whole_file
        for i, st in enumerate(self.stmts):
            before = len(self.res.findings)
            self.visit(st.node, st.line, index=i)
            if isinstance(st.node, ast.DoStmt):
                self.do_block(st)
            if not self.in_tx:
                self.locks.clear()
            verdict = Verdict.worst(f.verdict for f in self.res.findings[before:])
            self.res.statements.append(StatementInfo(st.line, type(st.node).__name__, verdict))
            self.res.spans.append(Span(st.line, st.end_line))
        return self.res

    # -- helpers ----------------------------------------------------------------------------------
    def add(self, rule_id: str, line: int, **names: Any) -> None:
        self.res.findings.append(RULES[rule_id].finding(line, **names))

    def new(self, rel: Any) -> bool:
        return rel is not None and table_key(rel) in self.created

    def lock(self, rel: Any, mode: int = 8) -> None:
        if rel is not None and not self.new(rel):
            self.locks[_name(rel)] = max(mode, self.locks.get(_name(rel), 0))

    def do_block(self, st: Statement) -> None:
        outer, self.in_tx = self.in_tx, True  # a DO block is one statement: one transaction
        for b in do_block_sql(st.node, st):
            if not b.sql:
                self.res.notes.append(f"line {b.line}: dynamic SQL in a DO block could not be analysed")
                continue
            try:
                nested = parse_sql(b.sql)
            except ParseError as exc:
                if b.dynamic:
                    self.res.notes.append(f"line {b.line}: dynamic SQL did not parse: {exc.args[0]}")
                    continue
                raise
            for raw in nested:
                self.visit(raw.stmt, b.line, index=-1)
                self.catalog.apply(raw.stmt)
                rel = getattr(raw.stmt, "relation", None)
                if b.in_loop and isinstance(raw.stmt, ast.UpdateStmt | ast.DeleteStmt) and not self.new(rel):
                    self.add("backfill-in-one-transaction", b.line, table=_name(rel),
                             kind=type(raw.stmt).__name__.removesuffix("Stmt").upper())
        self.in_tx = outer

    # -- dispatch ---------------------------------------------------------------------------------
    def visit(self, node: Any, line: int, index: int) -> None:
        if (what := non_transactional(node)) and self.in_tx:
            self.add("non-transactional-in-transaction", line, detail=what)
        method = getattr(self, f"v_{type(node).__name__}", None)
        if method is not None:
            method(node, line, index)
        if index >= 0 and not isinstance(node, ast.DoStmt):
            self.catalog.apply(node)

    def v_TransactionStmt(self, node: Any, line: int, index: int) -> None:
        K = enums.TransactionStmtKind
        if node.kind in (K.TRANS_STMT_BEGIN, K.TRANS_STMT_START):
            self.in_tx = True
        elif node.kind in (K.TRANS_STMT_COMMIT, K.TRANS_STMT_ROLLBACK) and self.opts.tx_mode is not TxMode.FILE:
            self.in_tx = False
            self.locks.clear()

    def v_CreateStmt(self, node: Any, line: int, index: int) -> None:
        self.created.add(table_key(node.relation))

    def v_CreateTableAsStmt(self, node: Any, line: int, index: int) -> None:
        self.created.add(table_key(node.into.rel))

    def v_ViewStmt(self, node: Any, line: int, index: int) -> None:
        self.created.add(table_key(node.view))

    def v_CreateFunctionStmt(self, node: Any, line: int, index: int) -> None:
        self.created.add(_qualname(node.funcname))

    def v_CreateSeqStmt(self, node: Any, line: int, index: int) -> None:
        self.created.add(table_key(node.sequence))

    def v_CreateEnumStmt(self, node: Any, line: int, index: int) -> None:
        self.created.add(_qualname(node.typeName))

    def v_CreateTrigStmt(self, node: Any, line: int, index: int) -> None:
        self.lock(node.relation, 6)

    def v_IndexStmt(self, node: Any, line: int, index: int) -> None:
        if self.new(node.relation):
            return
        if node.idxname:
            self.created.add(f"{node.relation.schemaname or 'public'}.{node.idxname}")
        if not node.concurrent:
            self.add("create-index", line, obj=node.idxname or "(unnamed)", table=_name(node.relation))
            self.lock(node.relation, 5)

    def v_DropStmt(self, node: Any, line: int, index: int) -> None:
        kind = node.removeType
        for obj in node.objects or ():
            names = [n.sval for n in obj] if isinstance(obj, list | tuple) else []
            qual = ".".join(names) if len(names) > 1 else f"public.{names[0]}" if names else ""
            label = _qualname(obj)
            if qual in self.created or _qualname(obj) in self.created:
                continue
            if kind == OT.OBJECT_TABLE:
                self.add("drop-table", line, table=label, objects=(ObjectRef(label),))
            elif kind == OT.OBJECT_INDEX and not node.concurrent:
                self.add("drop-index", line, obj=label, table="its table")
            elif kind == OT.OBJECT_SCHEMA:
                self.add("drop-schema", line, kind="schema", obj=label)
            elif kind in _OBJ_KIND:
                self.add("drop-object", line, kind=_OBJ_KIND[kind], obj=label)

    def v_DropdbStmt(self, node: Any, line: int, index: int) -> None:
        self.add("drop-schema", line, kind="database", obj=node.dbname)

    def v_TruncateStmt(self, node: Any, line: int, index: int) -> None:
        for rel in node.relations or ():
            if not self.new(rel):
                self.add("truncate", line, table=_name(rel))

    def v_RenameStmt(self, node: Any, line: int, index: int) -> None:
        kind, rel = node.renameType, node.relation
        if kind == OT.OBJECT_COLUMN and rel is not None:
            if self.new(rel) or (table_key(rel), node.subname) in self.added:
                return
            self.lock(rel)
            self.add("rename-column", line, table=_name(rel), column=node.subname, new=node.newname,
                     objects=(ObjectRef(_name(rel), node.subname, "rename"),))
        elif kind == OT.OBJECT_TABLE and rel is not None:
            if self.new(rel) or self._view_replaces(rel, index):
                return
            self.lock(rel)
            self.add("rename-table", line, table=_name(rel), new=node.newname,
                     objects=(ObjectRef(_name(rel), None, "rename"),))
        elif kind in _OBJ_KIND and kind != OT.OBJECT_TABLE:
            label = _name(rel) if rel is not None else _qualname(node.object)
            self.add("rename-object", line, kind=_OBJ_KIND[kind], obj=label, new=node.newname)

    def _view_replaces(self, rel: Any, index: int) -> bool:
        """`RENAME TO new` followed by `CREATE VIEW old AS ...` keeps the old name working."""
        return index >= 0 and any(
            isinstance(s.node, ast.ViewStmt) and table_key(s.node.view) == table_key(rel)
            for s in self.stmts[index + 1:])

    def v_AlterObjectSchemaStmt(self, node: Any, line: int, index: int) -> None:
        rel = node.relation
        if rel is not None and self.new(rel):
            return
        label = _name(rel) if rel is not None else _qualname(node.object)
        self.add("set-schema", line, kind=_OBJ_KIND.get(node.objectType, "object"), obj=label, new=node.newschema)

    def v_AlterEnumStmt(self, node: Any, line: int, index: int) -> None:
        if node.oldVal:
            self.add("rename-object", line, kind="enum value", obj=f"{_qualname(node.typeName)}.{node.oldVal}",
                     new=node.newVal)
        elif self.in_tx and self.opts.pg_version < 12:
            self.add("non-transactional-in-transaction", line, detail="ALTER TYPE ... ADD VALUE (before PostgreSQL 12)")

    def v_ReindexStmt(self, node: Any, line: int, index: int) -> None:
        if not any(p.defname == "concurrently" for p in node.params or ()):
            self.add("reindex", line, table=_name(node.relation) if node.relation else node.name)

    def v_VacuumStmt(self, node: Any, line: int, index: int) -> None:
        if any(o.defname == "full" for o in node.options or ()):
            for rel in node.rels or [None]:
                name = _name(rel.relation) if rel is not None else "every table"
                self.add("table-rewrite", line, detail="VACUUM FULL", table=name)

    def v_ClusterStmt(self, node: Any, line: int, index: int) -> None:
        self.add("table-rewrite", line, detail="CLUSTER", table=_name(node.relation) if node.relation else "tables")

    def v_RefreshMatViewStmt(self, node: Any, line: int, index: int) -> None:
        if not node.concurrent and not self.new(node.relation):
            self.add("refresh-materialized-view", line, obj=_name(node.relation))

    def v_LockStmt(self, node: Any, line: int, index: int) -> None:
        if node.mode >= _HEAVY_LOCK:
            modes = {5: "SHARE", 6: "SHARE ROW EXCLUSIVE", 7: "EXCLUSIVE", 8: "ACCESS EXCLUSIVE"}
            for rel in node.relations or ():
                self.lock(rel, node.mode)
                self.add("lock-table", line, table=_name(rel), detail=modes.get(node.mode, "heavy"))

    def v_AlterDomainStmt(self, node: Any, line: int, index: int) -> None:
        con = node.def_
        if node.subtype == "C" and isinstance(con, ast.Constraint) and not con.skip_validation:
            self.add("domain-constraint", line, obj=_qualname(node.typeName))

    # -- data changes -----------------------------------------------------------------------------
    def _dml(self, kind: str, rel: Any, where: Any, line: int, *, reads_existing: bool = False) -> None:
        held = sorted(t for t, mode in self.locks.items() if mode >= _HEAVY_LOCK)
        if rel.relname in BOOKKEEPING:
            return
        if self.in_tx and held and (reads_existing or not self.new(rel)):
            self.add("backfill-in-ddl-transaction", line, kind=kind, table=_name(rel), detail=", ".join(held))
        if self.new(rel):
            return
        if kind == "UPDATE" and (where is None or isinstance(where, ast.NullTest)):
            self.add("backfill-unbatched", line, kind=kind, table=_name(rel))

    def v_UpdateStmt(self, node: Any, line: int, index: int) -> None:
        self._dml("UPDATE", node.relation, node.whereClause, line)

    def v_DeleteStmt(self, node: Any, line: int, index: int) -> None:
        if node.whereClause is None and not self.new(node.relation):
            self.add("delete-all", line, table=_name(node.relation))
        self._dml("DELETE", node.relation, node.whereClause, line)

    def v_InsertStmt(self, node: Any, line: int, index: int) -> None:
        sel = node.selectStmt
        if isinstance(sel, ast.SelectStmt) and sel.fromClause:
            sources = [r for r in sel.fromClause if isinstance(r, ast.RangeVar)]
            self._dml("INSERT ... SELECT", node.relation, True, line,
                      reads_existing=any(not self.new(r) for r in sources))

    # -- ALTER TABLE ------------------------------------------------------------------------------
    def v_AlterTableStmt(self, node: Any, line: int, index: int) -> None:
        rel = node.relation
        if node.objtype not in (OT.OBJECT_TABLE, OT.OBJECT_FOREIGN_TABLE) or rel is None or self.new(rel):
            return
        key, name = table_key(rel), _name(rel)
        for cmd in node.cmds or ():
            st = cmd.subtype
            mode = 4 if st in (T.AT_ValidateConstraint, T.AT_SetRelOptions, T.AT_SetStatistics) else 8
            if st == T.AT_AddConstraint and getattr(cmd.def_, "contype", None) == C.CONSTR_FOREIGN:
                mode = 6
            handler = getattr(self, f"a_{st.name}", None)
            if handler is not None:
                handler(cmd, key, name, line)
            self.lock(rel, mode)

    def a_AT_AddColumn(self, cmd: Any, key: str, table: str, line: int) -> None:
        cd = cmd.def_
        col = cd.colname
        cons = {c.contype: c for c in cd.constraints or ()}
        serial = cd.typeName.names[-1].sval in ("serial", "bigserial", "smallserial", "serial2", "serial4", "serial8")
        default = cons.get(C.CONSTR_DEFAULT)
        filled = default is not None or serial or C.CONSTR_IDENTITY in cons or C.CONSTR_GENERATED in cons
        if (cd.is_not_null or C.CONSTR_NOTNULL in cons or C.CONSTR_PRIMARY in cons) and not filled:
            self.add("add-column-required", line, table=table, column=col)
        rewrite = None
        if serial:
            rewrite = f"a {cd.typeName.names[-1].sval} type (its nextval() default is volatile)"
        elif C.CONSTR_IDENTITY in cons:
            rewrite = "an identity (every row gets a value)"
        elif C.CONSTR_GENERATED in cons:
            rewrite = "a stored generated expression"
        elif default is not None and (fn := volatile_call(default.raw_expr)):
            rewrite = f"a volatile default ({fn})"
        elif default is not None and self.opts.pg_version < 11:
            rewrite = f"a default on PostgreSQL {self.opts.pg_version} (before 11 every default rewrites)"
        if rewrite:
            self.add("add-column-rewrite", line, table=table, column=col, detail=rewrite)
        for kind, label in ((C.CONSTR_PRIMARY, "PRIMARY KEY"), (C.CONSTR_UNIQUE, "UNIQUE")):
            if kind in cons:
                self.add("add-unique-constraint", line, kind=label, obj=f"{table}.{col}", table=table)
        if C.CONSTR_FOREIGN in cons:
            ref = cons[C.CONSTR_FOREIGN].pktable
            self.add("add-foreign-key", line, obj=f"on {table}.{col}", table=table, ref=_name(ref) if ref else "")
        if C.CONSTR_CHECK in cons:
            self.add("add-column-scan", line, table=table, column=col)
        self.added.add((key, col))

    def a_AT_DropColumn(self, cmd: Any, key: str, table: str, line: int) -> None:
        if (key, cmd.name) not in self.added:
            self.add("drop-column", line, table=table, column=cmd.name, objects=(ObjectRef(table, cmd.name),))

    def a_AT_AlterColumnType(self, cmd: Any, key: str, table: str, line: int) -> None:
        if (key, cmd.name) in self.added:
            return
        cd = cmd.def_
        new, mods = type_of(cd.typeName)
        using = cd.raw_default is not None and not (
            isinstance(cd.raw_default, ast.TypeCast) and isinstance(cd.raw_default.arg, ast.ColumnRef))
        old = self.catalog.column(key, cmd.name)
        change = classify_type_change(old, new, mods, using)
        shown = new + (f"({','.join(map(str, mods))})" if mods else "")
        if change in ("same", "coercible"):
            return
        was = f" (was {old.type}{'(' + ','.join(map(str, old.mods)) + ')' if old.mods else ''})" if old else ""
        unknown = " (old type unknown: pass --schema or --database to tell a safe widening apart)"
        if change in ("incompatible", "unknown"):
            self.add("change-column-type", line, table=table, column=cmd.name, type=shown,
                     detail=unknown if old is None else f", which reads and writes it as {old.type}{was}")
        self.add("column-type-rewrite", line, table=table, column=cmd.name, type=shown,
                 detail=was if old else unknown)

    def a_AT_SetNotNull(self, cmd: Any, key: str, table: str, line: int) -> None:
        col = self.catalog.column(key, cmd.name)
        if col is not None and col.not_null:
            return
        self.made_not_null.add((key, cmd.name))
        t = self.catalog.tables.get(key)
        checks = [v for c, v in (t.not_null_checks.values() if t else ()) if c == cmd.name]
        if not checks:
            self.add("set-not-null", line, table=table, column=cmd.name)
        if not any(checks) or self.opts.pg_version < 12:
            detail = (f" (PostgreSQL {self.opts.pg_version} cannot skip it; 12+ can, given a valid CHECK)"
                      if self.opts.pg_version < 12 else "")
            self.add("set-not-null-scan", line, table=table, column=cmd.name, detail=detail)

    def a_AT_DropNotNull(self, cmd: Any, key: str, table: str, line: int) -> None:
        if (key, cmd.name) not in self.added:
            self.add("drop-not-null", line, table=table, column=cmd.name)

    def a_AT_ColumnDefault(self, cmd: Any, key: str, table: str, line: int) -> None:
        col = self.catalog.column(key, cmd.name)
        # a column added in this file is unknown to the old version: only NOT NULL makes its INSERTs fail
        if cmd.def_ is None and ((key, cmd.name) not in self.added or (col is not None and col.not_null)):
            self.add("drop-default", line, table=table, column=cmd.name)

    def a_AT_DropIdentity(self, cmd: Any, key: str, table: str, line: int) -> None:
        self.add("drop-generated", line, table=table, column=cmd.name, detail="the identity")

    def a_AT_DropExpression(self, cmd: Any, key: str, table: str, line: int) -> None:
        self.add("drop-generated", line, table=table, column=cmd.name, detail="the generation expression")

    def a_AT_AddConstraint(self, cmd: Any, key: str, table: str, line: int) -> None:
        con = cmd.def_
        name = con.conname or "(unnamed)"
        if con.contype == C.CONSTR_CHECK:
            nn = not_null_check_column(con)
            col = self.catalog.column(key, nn) if nn else None
            if nn and not (col and col.not_null) and (key, nn) not in self.added:
                self.add("not-null-check", line, table=table, column=nn)
            if not con.skip_validation:
                self.add("add-check-constraint", line, obj=name, table=table)
        elif con.contype == C.CONSTR_FOREIGN and not con.skip_validation:
            self.add("add-foreign-key", line, obj=name, table=table, ref=_name(con.pktable))
        elif con.contype in (C.CONSTR_UNIQUE, C.CONSTR_PRIMARY) and not con.indexname:
            label = "PRIMARY KEY" if con.contype == C.CONSTR_PRIMARY else "UNIQUE"
            self.add("add-unique-constraint", line, kind=label, obj=name, table=table)
        elif con.contype == C.CONSTR_EXCLUSION:
            self.add("add-exclusion-constraint", line, obj=name, table=table)

    def a_AT_ValidateConstraint(self, cmd: Any, key: str, table: str, line: int) -> None:
        if self.in_tx and self.locks.get(table, 0) >= _HEAVY_LOCK:
            self.add("validate-in-transaction", line, obj=cmd.name, table=table)

    def a_AT_DropConstraint(self, cmd: Any, key: str, table: str, line: int) -> None:
        t = self.catalog.tables.get(key)
        check = t.not_null_checks.get(cmd.name) if t else None
        col = self.catalog.column(key, check[0]) if check else None
        redundant = check is not None and ((col is not None and col.not_null) or (key, check[0]) in self.made_not_null)
        if not redundant:  # a NOT NULL CHECK made redundant by SET NOT NULL guards nothing
            self.add("drop-constraint", line, obj=cmd.name, table=table)

    def a_AT_SetLogged(self, cmd: Any, key: str, table: str, line: int) -> None:
        self.add("table-rewrite", line, detail="SET LOGGED", table=table)

    def a_AT_SetUnLogged(self, cmd: Any, key: str, table: str, line: int) -> None:
        self.add("table-rewrite", line, detail="SET UNLOGGED", table=table)

    def a_AT_SetTableSpace(self, cmd: Any, key: str, table: str, line: int) -> None:
        self.add("table-rewrite", line, detail="SET TABLESPACE", table=table)

    def a_AT_SetAccessMethod(self, cmd: Any, key: str, table: str, line: int) -> None:
        self.add("table-rewrite", line, detail="SET ACCESS METHOD", table=table)

    def a_AT_SetExpression(self, cmd: Any, key: str, table: str, line: int) -> None:
        self.add("table-rewrite", line, detail=f"SET EXPRESSION on {cmd.name}", table=table)

    def a_AT_AttachPartition(self, cmd: Any, key: str, table: str, line: int) -> None:
        part = cmd.def_.name
        if not self.new(part):
            self.add("partition-lock", line, detail=f"ATTACH PARTITION {_name(part)} scans it under an ACCESS "
                     f"EXCLUSIVE lock unless a CHECK constraint already proves the partition bound.")

    def a_AT_DetachPartition(self, cmd: Any, key: str, table: str, line: int) -> None:
        if not cmd.def_.concurrent:
            self.add("partition-lock", line, detail=f"DETACH PARTITION takes an ACCESS EXCLUSIVE lock on {table}.")
