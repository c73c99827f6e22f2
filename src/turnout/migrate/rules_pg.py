"""PostgreSQL rules: walk pglast's parse tree statement by statement, with transaction and schema state.

State per file: tables created here (new and empty, so exempt), columns added here, the explicit or
implicit transaction and the heavy locks it holds, and the catalog (types, NOT NULL checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pglast import ast, enums, parse_sql
from pglast.parser import ParseError

from turnout.migrate.catalog import Catalog, Column, column_from_definition, function_key, table_key
from turnout.migrate.context import (
    NO_TRANSACTION,
    CheckOptions,
    Span,
    TxMode,
    stated_columns,
    stated_not_null_checks,
)
from turnout.migrate.findings import Finding, ObjectRef, StatementInfo, Verdict
from turnout.migrate.pg_parse import (
    Statement,
    do_block_sql,
    non_transactional,
    qualname,
    rel_name,
    statements,
)
from turnout.migrate.rules import RULES
from turnout.migrate.rules_pg_alter import HEAVY_LOCK, OT, AlterTableRules

_OBJ_KIND = {OT.OBJECT_VIEW: "view", OT.OBJECT_MATVIEW: "materialized view", OT.OBJECT_FUNCTION: "function",
             OT.OBJECT_PROCEDURE: "procedure", OT.OBJECT_ROUTINE: "routine", OT.OBJECT_TYPE: "type",
             OT.OBJECT_DOMAIN: "domain", OT.OBJECT_SEQUENCE: "sequence", OT.OBJECT_EXTENSION: "extension",
             OT.OBJECT_AGGREGATE: "aggregate", OT.OBJECT_SCHEMA: "schema", OT.OBJECT_TABLE: "table",
             OT.OBJECT_FOREIGN_TABLE: "foreign table"}
# Migration tools' own version tables: updating them in the DDL transaction is not a backfill.
BOOKKEEPING = frozenset({"alembic_version", "schema_migrations", "django_migrations", "flyway_schema_history",
                         "goose_db_version", "schema_version", "knex_migrations", "_prisma_migrations",
                         "__EFMigrationsHistory", "ar_internal_metadata", "turnout_migrations"})


@dataclass
class PgResult:
    findings: list[Finding] = field(default_factory=list)
    statements: list[StatementInfo] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class PgChecker(AlterTableRules):
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
        self.validated: dict[str, set[str]] = {}
        self.dropped_triggers: set[str] = set()
        self.stated = stated_columns(text)
        self.stated_checks = stated_not_null_checks(text)

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

    def note(self, line: int, text: str) -> None:
        self.res.notes.append(f"line {line}: {text}")

    def column(self, key: str, name: str, line: int) -> Column | None:
        """The catalog's column, else the definition a comment of the file states for it."""
        col = self.catalog.column(key, name)
        if col is not None:
            return col
        typ = self.stated.get((key.split(".", 1)[1].lower(), name.lower())) or self.stated.get((None, name.lower()))
        col = column_from_definition(typ) if typ else None
        if col is not None:
            self.note(line, f"{key.split('.', 1)[1]}.{name}: using the definition stated in the file ({typ})")
        return col

    def new(self, rel: Any) -> bool:
        return rel is not None and table_key(rel) in self.created

    def lock(self, rel: Any, mode: int = 8) -> None:
        if rel is not None and not self.new(rel):
            self.locks[rel_name(rel)] = max(mode, self.locks.get(rel_name(rel), 0))

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
                    self.add("backfill-in-one-transaction", b.line, table=rel_name(rel),
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
        self.created.add(qualname(node.funcname))

    def v_CreateSeqStmt(self, node: Any, line: int, index: int) -> None:
        self.created.add(table_key(node.sequence))

    def v_CreateEnumStmt(self, node: Any, line: int, index: int) -> None:
        self.created.add(qualname(node.typeName))

    def v_CreateTrigStmt(self, node: Any, line: int, index: int) -> None:
        self.lock(node.relation, 6)

    def v_IndexStmt(self, node: Any, line: int, index: int) -> None:
        if self.new(node.relation):
            return
        if node.idxname:
            self.created.add(f"{node.relation.schemaname or 'public'}.{node.idxname}")
        if not node.concurrent:
            self.add("create-index", line, obj=node.idxname or "(unnamed)", table=rel_name(node.relation))
            self.lock(node.relation, 5)

    def v_DropStmt(self, node: Any, line: int, index: int) -> None:
        kind = node.removeType
        for obj in node.objects or ():
            names = [n.sval for n in obj] if isinstance(obj, list | tuple) else []
            qual = ".".join(names) if len(names) > 1 else f"public.{names[0]}" if names else ""
            label = qualname(obj)
            if kind == OT.OBJECT_TRIGGER and names:
                self.dropped_triggers.add(names[-1])
            if qual in self.created or qualname(obj) in self.created:
                continue
            if kind in (OT.OBJECT_FUNCTION, OT.OBJECT_PROCEDURE) and self._trigger_function(obj):
                continue
            if kind not in (OT.OBJECT_TABLE, OT.OBJECT_SCHEMA) and self._recreated(kind, obj, index):
                continue
            if kind == OT.OBJECT_TABLE:
                self.add("drop-table", line, table=label, objects=(ObjectRef(label),))
            elif kind == OT.OBJECT_INDEX and not node.concurrent:
                self.add("drop-index", line, obj=label, table="its table")
            elif kind == OT.OBJECT_SCHEMA:
                self.add("drop-schema", line, kind="schema", obj=label)
            elif kind in _OBJ_KIND:
                self.add("drop-object", line, kind=_OBJ_KIND[kind], obj=label)

    def _trigger_function(self, obj: Any) -> bool:
        """Only triggers call a trigger function: dropping it (with or after its trigger) breaks no client."""
        names = obj.objname if isinstance(obj, ast.ObjectWithArgs) else obj
        if not names:
            return False
        return function_key(names) in self.catalog.trigger_functions or names[-1].sval in self.dropped_triggers

    def _recreated(self, kind: Any, obj: Any, index: int) -> bool:
        """`DROP VIEW v` followed by `CREATE VIEW v` (or function, type) in the same file: replaced, not gone."""
        names = obj.objname if isinstance(obj, ast.ObjectWithArgs) else obj
        if index < 0 or not isinstance(names, list | tuple) or not names:
            return False
        want = function_key(names)
        for st in self.stmts[index + 1:]:
            n = st.node
            if kind in (OT.OBJECT_VIEW, OT.OBJECT_MATVIEW) and isinstance(n, ast.ViewStmt | ast.CreateTableAsStmt):
                rel = n.view if isinstance(n, ast.ViewStmt) else getattr(n.into, "rel", None)
                if rel is not None and table_key(rel) == want:
                    return True
            elif kind in (OT.OBJECT_FUNCTION, OT.OBJECT_PROCEDURE) and isinstance(n, ast.CreateFunctionStmt):
                if function_key(n.funcname) == want:
                    return True
            elif kind in (OT.OBJECT_TYPE, OT.OBJECT_DOMAIN) and isinstance(
                    n, ast.CreateEnumStmt | ast.CompositeTypeStmt | ast.CreateDomainStmt):
                target = n.typeName if not isinstance(n, ast.CompositeTypeStmt) else None
                if target is not None and function_key(target) == want:
                    return True
        return False

    def v_DropdbStmt(self, node: Any, line: int, index: int) -> None:
        self.add("drop-schema", line, kind="database", obj=node.dbname)

    def v_TruncateStmt(self, node: Any, line: int, index: int) -> None:
        for rel in node.relations or ():
            if not self.new(rel):
                self.add("truncate", line, table=rel_name(rel))

    def v_RenameStmt(self, node: Any, line: int, index: int) -> None:
        kind, rel = node.renameType, node.relation
        if kind == OT.OBJECT_COLUMN and rel is not None:
            if self.new(rel) or (table_key(rel), node.subname) in self.added:
                return
            self.lock(rel)
            self.add("rename-column", line, table=rel_name(rel), column=node.subname, new=node.newname,
                     objects=(ObjectRef(rel_name(rel), node.subname, "rename"),))
        elif kind == OT.OBJECT_TABLE and rel is not None:
            if self.new(rel) or self._view_replaces(rel, index):
                return
            self.lock(rel)
            self.add("rename-table", line, table=rel_name(rel), new=node.newname,
                     objects=(ObjectRef(rel_name(rel), None, "rename"),))
        elif kind in _OBJ_KIND and kind != OT.OBJECT_TABLE:
            label = rel_name(rel) if rel is not None else qualname(node.object)
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
        label = rel_name(rel) if rel is not None else qualname(node.object)
        self.add("set-schema", line, kind=_OBJ_KIND.get(node.objectType, "object"), obj=label, new=node.newschema)

    def v_AlterEnumStmt(self, node: Any, line: int, index: int) -> None:
        if node.oldVal:
            self.add("rename-object", line, kind="enum value", obj=f"{qualname(node.typeName)}.{node.oldVal}",
                     new=node.newVal)
        elif self.in_tx and self.opts.pg_version < 12:
            self.add("non-transactional-in-transaction", line, detail="ALTER TYPE ... ADD VALUE (before PostgreSQL 12)")

    def v_ReindexStmt(self, node: Any, line: int, index: int) -> None:
        if not any(p.defname == "concurrently" for p in node.params or ()):
            self.add("reindex", line, table=rel_name(node.relation) if node.relation else node.name)

    def v_VacuumStmt(self, node: Any, line: int, index: int) -> None:
        if any(o.defname == "full" for o in node.options or ()):
            for rel in node.rels or [None]:
                name = rel_name(rel.relation) if rel is not None else "every table"
                self.add("table-rewrite", line, detail="VACUUM FULL", table=name)

    def v_ClusterStmt(self, node: Any, line: int, index: int) -> None:
        self.add("table-rewrite", line, detail="CLUSTER", table=rel_name(node.relation) if node.relation else "tables")

    def v_RefreshMatViewStmt(self, node: Any, line: int, index: int) -> None:
        if not node.concurrent and not self.new(node.relation):
            self.add("refresh-materialized-view", line, obj=rel_name(node.relation))

    def v_LockStmt(self, node: Any, line: int, index: int) -> None:
        if node.mode >= HEAVY_LOCK:
            modes = {5: "SHARE", 6: "SHARE ROW EXCLUSIVE", 7: "EXCLUSIVE", 8: "ACCESS EXCLUSIVE"}
            for rel in node.relations or ():
                self.lock(rel, node.mode)
                self.add("lock-table", line, table=rel_name(rel), detail=modes.get(node.mode, "heavy"))

    def v_AlterDomainStmt(self, node: Any, line: int, index: int) -> None:
        con = node.def_
        if node.subtype == "C" and isinstance(con, ast.Constraint) and not con.skip_validation:
            self.add("domain-constraint", line, obj=qualname(node.typeName))

    # -- data changes -----------------------------------------------------------------------------
    def _dml(self, kind: str, rel: Any, where: Any, line: int, *, reads_existing: bool = False) -> None:
        held = sorted(t for t, mode in self.locks.items() if mode >= HEAVY_LOCK)
        if rel.relname in BOOKKEEPING:
            return
        if self.in_tx and held and (reads_existing or not self.new(rel)):
            self.add("backfill-in-ddl-transaction", line, kind=kind, table=rel_name(rel), detail=", ".join(held))
        if self.new(rel):
            return
        every_row = where is None or isinstance(where, ast.NullTest) or self._only_new_columns(rel, where)
        if kind == "UPDATE" and every_row:
            self.add("backfill-unbatched", line, kind=kind, table=rel_name(rel))

    def _only_new_columns(self, rel: Any, where: Any) -> bool:
        """A WHERE that only tests columns added in this file selects every row: they all hold the default."""
        cols: list[str] = []

        own = {rel.relname, getattr(rel.alias, "aliasname", None)} - {None}

        def visit(node: Any) -> None:
            if isinstance(node, ast.ColumnRef):
                fields = node.fields or ()
                last = fields[-1] if fields else None
                other = len(fields) > 1 and isinstance(fields[-2], ast.String) and fields[-2].sval not in own
                cols.append("*" if other or not isinstance(last, ast.String) else str(last.sval))
            elif isinstance(node, ast.SubLink):
                cols.append("*")  # a subquery: not only this row's columns
            elif isinstance(node, ast.Node):
                for attr in node:
                    visit(getattr(node, attr))
            elif isinstance(node, list | tuple):
                for item in node:
                    visit(item)

        visit(where)
        key = table_key(rel)
        return bool(cols) and all((key, c) in self.added for c in cols)

    def v_UpdateStmt(self, node: Any, line: int, index: int) -> None:
        self._dml("UPDATE", node.relation, node.whereClause, line)

    def v_DeleteStmt(self, node: Any, line: int, index: int) -> None:
        if node.whereClause is None and not self.new(node.relation):
            self.add("delete-all", line, table=rel_name(node.relation))
        self._dml("DELETE", node.relation, node.whereClause, line)

    def v_InsertStmt(self, node: Any, line: int, index: int) -> None:
        sel = node.selectStmt
        if isinstance(sel, ast.SelectStmt) and sel.fromClause:
            sources = [r for r in sel.fromClause if isinstance(r, ast.RangeVar)]
            self._dml("INSERT ... SELECT", node.relation, True, line,
                      reads_existing=any(not self.new(r) for r in sources))
