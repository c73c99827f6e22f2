"""ALTER TABLE rules for PostgreSQL, one method per subcommand (`a_<AlterTableType>`), mixed into PgChecker."""

from __future__ import annotations

from typing import Any

from pglast import ast, enums

from turnout.migrate.catalog import Catalog, classify_type_change, not_null_check_column, table_key, type_of
from turnout.migrate.context import CheckOptions
from turnout.migrate.findings import ObjectRef
from turnout.migrate.pg_parse import rel_name, volatile_call

T, C, OT = enums.AlterTableType, enums.ConstrType, enums.ObjectType
HEAVY_LOCK = 5  # ShareLock and stronger block writes


class AlterTableRules:
    # state owned by PgChecker
    opts: CheckOptions
    catalog: Catalog
    added: set[tuple[str, str]]
    made_not_null: set[tuple[str, str]]
    in_tx: bool
    locks: dict[str, int]
    validated: dict[str, set[str]]  # table -> constraints validated in this file that the catalog does not know
    stated_checks: set[str]  # columns a comment says have a validated CHECK (col IS NOT NULL)
    stmts: list[Any]

    def note(self, line: int, text: str) -> None:
        raise NotImplementedError

    def column(self, key: str, name: str, line: int) -> Any:
        raise NotImplementedError

    def add(self, rule_id: str, line: int, **names: Any) -> None:
        raise NotImplementedError

    def new(self, rel: Any) -> bool:
        raise NotImplementedError

    def lock(self, rel: Any, mode: int = 8) -> None:
        raise NotImplementedError

    def v_AlterTableStmt(self, node: Any, line: int, index: int) -> None:
        rel = node.relation
        if node.objtype not in (OT.OBJECT_TABLE, OT.OBJECT_FOREIGN_TABLE) or rel is None or self.new(rel):
            return
        key, name = table_key(rel), rel_name(rel)
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
            self.add("add-foreign-key", line, obj=f"on {table}.{col}", table=table, ref=rel_name(ref) if ref else "")
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
        old = self.column(key, cmd.name, line)
        # `USING col::type` converts like no USING at all when the old type is known; when it is not, that
        # the author needed it says there is no assignment cast: not a plain widening.
        plain_cast = isinstance(cd.raw_default, ast.TypeCast) and isinstance(cd.raw_default.arg, ast.ColumnRef)
        using = cd.raw_default is not None and (old is None or not plain_cast)
        change = classify_type_change(old, new, mods, using)
        shown = new + (f"({','.join(map(str, mods))})" if mods else "")
        was = f" (was {old.type}{'(' + ','.join(map(str, old.mods)) + ')' if old.mods else ''})" if old else ""
        if change.assumed:
            effect = ("incompatible" if change.breaks else "compatible") + (", rewrite" if change.rewrites else "")
            self.note(line, f"{table}.{cmd.name}: old type unknown, assumed {change.assumed} ({effect}); "
                            "pass --schema or --database to know")
        if change.breaks:
            what = "narrows it" if change.kind == "narrowing" else "changes how its values are represented"
            detail = f", which reads and writes it as {old.type}: the change {what}{was}" if old else (
                f": {change.assumed} (old type unknown: pass --schema or --database)")
            self.add("change-column-type", line, table=table, column=cmd.name, type=shown, detail=detail)
        if change.rewrites:
            self.add("column-type-rewrite", line, table=table, column=cmd.name, type=shown,
                     detail=was or f" (assumed the old type was {change.assumed})")

    def a_AT_SetNotNull(self, cmd: Any, key: str, table: str, line: int) -> None:
        col = self.column(key, cmd.name, line)
        if col is not None and col.not_null:
            return
        self.made_not_null.add((key, cmd.name))
        t = self.catalog.tables.get(key)
        checks = [v for c, v in (t.not_null_checks.values() if t else ()) if c == cmd.name]
        if not checks and (name := self._implied_check(key, table, cmd.name)):
            # the PostgreSQL 12 recipe across migrations: its CHECK was added (and validated) earlier
            self.note(line, f"SET NOT NULL on {table}.{cmd.name}: assumed constraint {name} is a validated "
                            f"CHECK ({cmd.name} IS NOT NULL), as this file validates or drops it")
            checks = [True]
        if not checks:
            self.add("set-not-null", line, table=table, column=cmd.name)
        if not any(checks) or self.opts.pg_version < 12:
            detail = (f" (PostgreSQL {self.opts.pg_version} cannot skip it; 12+ can, given a valid CHECK)"
                      if self.opts.pg_version < 12 else "")
            self.add("set-not-null-scan", line, table=table, column=cmd.name, detail=detail)

    def _implied_check(self, key: str, table: str, column: str) -> str | None:
        """A constraint on `table` that this file validates (or drops) without the catalog knowing it,
        named after `column`: squawk's reading of the cross-migration NOT NULL recipe, kept to names."""
        names = set(self.validated.get(key, ()))
        for st in self.stmts:
            node = st.node
            if isinstance(node, ast.AlterTableStmt) and node.relation is not None and table_key(node.relation) == key:
                names |= {c.name for c in node.cmds or () if c.subtype == T.AT_DropConstraint and c.name}
        t = self.catalog.tables.get(key)
        known = set(t.constraints) if t else set()
        found = next((n for n in sorted(names - known) if column.lower() in n.lower()), None)
        if found is None and column.lower() in self.stated_checks:
            found = f"CHECK ({column} IS NOT NULL), stated valid in a comment,"
        return found

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
            self.add("add-foreign-key", line, obj=name, table=table, ref=rel_name(con.pktable))
        elif con.contype in (C.CONSTR_UNIQUE, C.CONSTR_PRIMARY) and not con.indexname:
            label = "PRIMARY KEY" if con.contype == C.CONSTR_PRIMARY else "UNIQUE"
            self.add("add-unique-constraint", line, kind=label, obj=name, table=table)
        elif con.contype == C.CONSTR_EXCLUSION:
            self.add("add-exclusion-constraint", line, obj=name, table=table)

    def a_AT_ValidateConstraint(self, cmd: Any, key: str, table: str, line: int) -> None:
        t = self.catalog.tables.get(key)
        if t is None or cmd.name not in t.constraints:
            self.validated.setdefault(key, set()).add(cmd.name)
        if self.in_tx and self.locks.get(table, 0) >= HEAVY_LOCK:
            self.add("validate-in-transaction", line, obj=cmd.name, table=table)

    def a_AT_DropConstraint(self, cmd: Any, key: str, table: str, line: int) -> None:
        # Dropping a foreign key, CHECK, UNIQUE or exclusion constraint only lets more writes through:
        # the running version's statements keep working. A CHECK (col IS NOT NULL) is the exception,
        # like DROP NOT NULL, unless SET NOT NULL made it redundant.
        t = self.catalog.tables.get(key)
        check = t.not_null_checks.get(cmd.name) if t else None
        if check is None:
            return
        col = self.catalog.column(key, check[0])
        if not ((col is not None and col.not_null) or (key, check[0]) in self.made_not_null):
            self.add("drop-constraint", line, obj=cmd.name, table=table, column=check[0])

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
            self.add("partition-lock", line, detail=f"ATTACH PARTITION {rel_name(part)} scans it under an ACCESS "
                     f"EXCLUSIVE lock unless a CHECK constraint already proves the partition bound.")

    def a_AT_DetachPartition(self, cmd: Any, key: str, table: str, line: int) -> None:
        if not cmd.def_.concurrent:
            self.add("partition-lock", line, detail=f"DETACH PARTITION takes an ACCESS EXCLUSIVE lock on {table}.")
