"""The rule table: one entry per problem, with its class, phase, reason and safe alternative.

Data only. Messages are `str.format` templates over the names a rule module passes
(`table`, `column`, `new`, `obj`, `kind`, `detail`, `ref`, `type`). The lock-mode facts behind the
lock_risk rules are PostgreSQL 15's, checked on a real server (see docs/migrations.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from turnout.migrate.findings import Finding, ObjectRef, Phase, Verdict

# Short enough that a queued ACCESS EXCLUSIVE request cannot stall traffic for long; retry on timeout.
LOCK_TIMEOUT = "2s"

BI, LR, DE = Verdict.BACKWARD_INCOMPATIBLE, Verdict.LOCK_RISK, Verdict.DESTRUCTIVE
EX, CO = Phase.EXPAND, Phase.CONTRACT

_BATCH = "backfill in batches of ~1000 rows by primary-key range, one short transaction per batch"


@dataclass(frozen=True)
class Rule:
    id: str
    verdict: Verdict
    phase: Phase
    message: str
    steps: tuple[str, ...]
    locks: bool = True  # takes a table lock that can queue traffic: suggest lock_timeout

    def finding(self, line: int, *, objects: tuple[ObjectRef, ...] = (),
                message: str | None = None, steps: tuple[str, ...] | None = None, **names: Any) -> Finding:
        names = {k: "" if v is None else v for k, v in names.items()}
        text = (message or self.message).format_map(_Defaults(names))
        return Finding(
            rule=self.id, verdict=self.verdict, line=line, message=text,
            safe_alternative=tuple(s.format_map(_Defaults(names)) for s in (steps or self.steps)),
            phase=self.phase, lock_timeout=LOCK_TIMEOUT if self.locks else None, objects=objects,
        )


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def _r(id: str, verdict: Verdict, phase: Phase, message: str, *steps: str, locks: bool = True) -> Rule:
    return Rule(id, verdict, phase, message, steps, locks)


RULES: dict[str, Rule] = {r.id: r for r in [
    # --- breaks the running version -------------------------------------------------------------
    _r("rename-column", BI, CO,
       "Renaming {table}.{column} to {new} breaks the running version, which still uses {column}.",
       "expand: ADD COLUMN {new} (nullable, same type) to {table}",
       "expand: keep {column} and {new} in sync with a trigger (or dual-write from the new version)",
       _BATCH + ", copying {column} into {new}",
       "deploy the version that reads and writes {new}",
       "contract: DROP COLUMN {column} once the old color can no longer be rolled back to"),
    _r("rename-table", BI, CO,
       "Renaming table {table} to {new} breaks the running version, which still queries {table}.",
       "expand: in one transaction, ALTER TABLE {table} RENAME TO {new} and CREATE VIEW {table} AS "
       "SELECT * FROM {new} (a simple view stays updatable for the old version)",
       "deploy the version that uses {new}",
       "contract: DROP VIEW {table}"),
    _r("rename-object", BI, CO,
       "Renaming {kind} {obj} to {new} breaks the running version if it refers to {obj}.",
       "expand: create {new} next to {obj} (or a view/wrapper with the new name)",
       "deploy the version that uses {new}",
       "contract: drop {obj}"),
    _r("set-schema", BI, CO,
       "Moving {kind} {obj} to schema {new} breaks the running version, which finds it by its old name.",
       "expand: create the object in {new} (or a view there) and keep both in sync",
       "deploy the version that uses {new}", "contract: drop the old object"),
    _r("add-column-required", BI, CO,
       "Adding NOT NULL column {table}.{column} without a default makes the running version's INSERTs fail "
       "(and fails outright on a non-empty table).",
       "expand: ADD COLUMN {column} without NOT NULL (or NOT NULL DEFAULT <constant> on PostgreSQL 11+)",
       "deploy a version that always writes {column}",
       _BATCH + ", filling {column}",
       "contract: ADD CONSTRAINT {column}_not_null CHECK ({column} IS NOT NULL) NOT VALID; VALIDATE it in its "
       "own transaction; SET NOT NULL (PostgreSQL 12+ uses the CHECK and skips the scan); drop the CHECK"),
    _r("set-not-null", BI, CO,
       "SET NOT NULL on {table}.{column} rejects NULL writes from the running version.",
       "deploy a version that always writes {column} and backfill NULLs in batches",
       "contract: ADD CONSTRAINT {column}_not_null CHECK ({column} IS NOT NULL) NOT VALID, then VALIDATE it "
       "in its own transaction, SET NOT NULL, DROP CONSTRAINT {column}_not_null"),
    _r("not-null-check", BI, CO,
       "CHECK ({column} IS NOT NULL) on {table} rejects NULL writes from the running version, even NOT VALID.",
       "deploy a version that always writes {column} and backfill NULLs in batches",
       "contract: add the CHECK NOT VALID, VALIDATE it in its own transaction, then SET NOT NULL"),
    _r("drop-not-null", BI, CO,
       "Dropping NOT NULL on {table}.{column} lets the new version write NULLs that the old version "
       "(and a rollback to it) does not expect.",
       "deploy a version that tolerates NULL in {column} first",
       "contract: DROP NOT NULL once that version is the oldest one that can run"),
    _r("drop-default", BI, CO,
       "Dropping the default of {table}.{column} makes the running version's INSERTs that omit it store "
       "NULL or fail.",
       "deploy a version that always writes {column}", "contract: DROP DEFAULT"),
    _r("drop-constraint", BI, CO,
       "Dropping {obj}, a CHECK ({column} IS NOT NULL) on {table}, lets the new version write NULLs that the "
       "old version (and a rollback to it) does not expect.",
       "deploy a version that tolerates NULL in {column} first", "contract: DROP CONSTRAINT {obj}"),
    _r("drop-generated", BI, CO,
       "Dropping {detail} of {table}.{column} stops the database filling it for the running version.",
       "deploy a version that writes {column} itself", "contract: drop the {detail}"),
    _r("change-column-type", BI, CO,
       "Changing {table}.{column} to {type} can break the running version{detail}.",
       "expand: ADD COLUMN {column}_new {type}",
       "expand: trigger that writes {column}_new from {column} (and back) on every write",
       _BATCH + ", converting {column} into {column}_new",
       "deploy the version that reads {column}_new",
       "contract: drop {column} (and the trigger), then rename {column}_new"),
    _r("drop-object", BI, CO,
       "Dropping {kind} {obj} breaks the running version if it still uses it.",
       "deploy a version that no longer uses {obj}", "contract: DROP {kind} {obj}"),
    # --- loses data -----------------------------------------------------------------------------
    _r("drop-column", DE, CO,
       "Dropping {table}.{column} deletes its data, and the running version breaks if it still uses it.",
       "deploy a version that no longer reads or writes {column} (ORMs: mark it ignored first)",
       "confirm with `turnout migrate check --old-source <that version>`",
       "contract: DROP COLUMN {column} after the retention window (back it up if it may be needed)"),
    _r("drop-table", DE, CO,
       "Dropping table {table} deletes its data, and the running version breaks if it still uses it.",
       "deploy a version that no longer uses {table}",
       "optionally rename it aside first and drop it a release later",
       "contract: DROP TABLE {table} after the retention window"),
    _r("drop-schema", DE, CO, "Dropping {kind} {obj} deletes everything in it.",
       "move what is still needed elsewhere", "contract: drop it once nothing uses it"),
    _r("truncate", DE, CO, "TRUNCATE {table} deletes every row (and takes an ACCESS EXCLUSIVE lock).",
       "delete only the rows you mean to, in batches", "or drop the table in a contract migration"),
    _r("delete-all", DE, CO, "DELETE without WHERE removes every row of {table}.",
       "add a WHERE clause for the rows you mean", "delete in batches, one short transaction each",
       locks=False),
    # --- compatible, but blocks traffic ----------------------------------------------------------
    _r("column-type-rewrite", LR, EX,
       "Changing {table}.{column} to {type} rewrites {table} and its indexes under an ACCESS EXCLUSIVE "
       "lock{detail}.",
       "expand: ADD COLUMN {column}_new {type} and a trigger that keeps it in sync",
       _BATCH,
       "switch reads, then contract: drop {column} and rename {column}_new"),
    _r("add-column-rewrite", LR, EX,
       "ADD COLUMN {table}.{column} with {detail} rewrites the whole table under an ACCESS EXCLUSIVE lock.",
       "ADD COLUMN {column} without the default (instant)",
       "ALTER COLUMN {column} SET DEFAULT ... (applies to new rows only)",
       _BATCH + ", filling existing rows"),
    _r("add-column-scan", LR, EX,
       "ADD COLUMN {table}.{column} with a CHECK scans all of {table} under an ACCESS EXCLUSIVE lock.",
       "ADD COLUMN {column} without the CHECK",
       "ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT in its own transaction"),
    _r("set-not-null-scan", LR, EX,
       "SET NOT NULL scans all of {table} under an ACCESS EXCLUSIVE lock{detail}.",
       "ADD CONSTRAINT {column}_not_null CHECK ({column} IS NOT NULL) NOT VALID",
       "VALIDATE CONSTRAINT {column}_not_null in its own transaction (does not block reads or writes)",
       "SET NOT NULL (PostgreSQL 12+ skips the scan), then DROP CONSTRAINT {column}_not_null"),
    _r("add-foreign-key", LR, EX,
       "Adding foreign key {obj} validates every row of {table} while blocking writes to {table} and {ref}.",
       "ADD CONSTRAINT {obj} ... NOT VALID (instant)",
       "VALIDATE CONSTRAINT {obj} in a separate transaction (reads and writes continue)"),
    _r("add-check-constraint", LR, EX,
       "Adding CHECK constraint {obj} scans all of {table} under an ACCESS EXCLUSIVE lock.",
       "ADD CONSTRAINT {obj} CHECK (...) NOT VALID (instant)",
       "VALIDATE CONSTRAINT {obj} in a separate transaction (reads and writes continue)"),
    _r("add-unique-constraint", LR, EX,
       "Adding {kind} {obj} builds an index on {table} under an ACCESS EXCLUSIVE lock.",
       "CREATE UNIQUE INDEX CONCURRENTLY {obj}_idx ON {table} (...) outside a transaction",
       "ALTER TABLE {table} ADD CONSTRAINT {obj} {kind} USING INDEX {obj}_idx (instant)"),
    _r("add-exclusion-constraint", LR, EX,
       "Adding exclusion constraint {obj} builds an index on {table} under an ACCESS EXCLUSIVE lock.",
       "there is no NOT VALID or concurrent form: run it off-peak with a lock_timeout",
       "or enforce it in a new table that the application migrates to"),
    _r("create-index", LR, EX, "CREATE INDEX {obj} blocks writes to {table} for the whole build.",
       "CREATE INDEX CONCURRENTLY {obj} ... outside a transaction block",
       "if it fails, DROP INDEX CONCURRENTLY the INVALID index and retry"),
    _r("drop-index", LR, EX, "DROP INDEX {obj} takes an ACCESS EXCLUSIVE lock on its table.",
       "DROP INDEX CONCURRENTLY {obj} outside a transaction block"),
    _r("reindex", LR, EX, "REINDEX blocks writes to {table} while it rebuilds.",
       "REINDEX ... CONCURRENTLY (PostgreSQL 12+) outside a transaction block"),
    _r("table-rewrite", LR, EX, "{detail} rewrites {table} under an ACCESS EXCLUSIVE lock.",
       "avoid it online: use pg_repack, or copy into a new table and switch to it"),
    _r("refresh-materialized-view", LR, EX,
       "REFRESH MATERIALIZED VIEW {obj} blocks every read of it until the refresh finishes.",
       "create a unique index on it, then REFRESH MATERIALIZED VIEW CONCURRENTLY {obj}"),
    _r("partition-lock", LR, EX, "{detail}",
       "DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+) outside a transaction",
       "before ATTACH PARTITION, add a CHECK constraint matching the bound so no scan is needed"),
    _r("lock-table", LR, EX, "LOCK TABLE {table} ({detail}) blocks traffic until the transaction ends.",
       "remove the explicit lock; keep each transaction short and set lock_timeout"),
    _r("domain-constraint", LR, EX, "Adding a constraint to domain {obj} scans every column that uses it.",
       "ALTER DOMAIN {obj} ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT separately"),
    _r("non-transactional-in-transaction", LR, EX,
       "{detail} cannot run inside a transaction block, so this migration fails as written.",
       "put it in its own migration without BEGIN/COMMIT (or mark the file `-- turnout:no-transaction`)"),
    _r("validate-in-transaction", LR, EX,
       "VALIDATE CONSTRAINT {obj} runs in the transaction that locked {table}, so its scan keeps that lock.",
       "commit the NOT VALID constraint first", "VALIDATE CONSTRAINT {obj} in its own transaction"),
    _r("backfill-in-ddl-transaction", LR, EX,
       "{kind} on {table} runs in the same transaction as DDL that locked {detail}; the lock is held for "
       "the whole backfill.",
       "commit the DDL first (its own migration)", _BATCH, locks=False),
    _r("backfill-in-one-transaction", LR, EX,
       "Batched {kind}s of {table} in a DO block loop all commit together when the block ends, so every row "
       "stays locked until then.",
       "run each batch as its own statement from a script or the migration runner, committing in between",
       "or use a procedure with COMMIT after each batch (PostgreSQL 11+), CALLed outside a transaction",
       locks=False),
    _r("backfill-unbatched", LR, EX,
       "{kind} of every row of {table} in one statement locks all of them until it commits.",
       _BATCH, "run it outside the schema migration, throttled", locks=False),
    # --- measured on a schema-only shadow copy (--database) ------------------------------------
    _r("shadow-rewrite", LR, EX, "{detail}",
       "rewrite the change into its online form (see the static finding on this line)",
       "or run it off-peak with a lock_timeout"),
    _r("shadow-scan", LR, EX, "{detail}",
       "add the constraint NOT VALID and VALIDATE it in its own transaction",
       "or build the index CONCURRENTLY"),
    _r("shadow-dependency", BI, CO, "{detail}",
       "drop or rewrite the dependent objects first, in a migration of their own",
       "contract: then drop the object (CASCADE would silently drop them with it)"),
    _r("shadow-cascade", BI, CO, "{detail}",
       "drop the dependent objects explicitly first, once nothing uses them"),
    _r("shadow-function-reference", BI, CO, "{detail}",
       "update the function in an expand migration first",
       "contract: drop the column or table afterwards"),
    _r("shadow-rebuild", LR, EX, "{detail}",
       "make it an online change (ALGORITHM=INPLACE, LOCK=NONE or INSTANT), e.g. split it up",
       "or run it with gh-ost / pt-online-schema-change, or off-peak with a short lock_wait_timeout"),
    _r("shadow-refused", LR, EX, "{detail}",
       "change the statement into one the server can run online, or drop the clause and accept the copy"),
    _r("mysql-algorithm-unsupported", LR, EX, "{detail}: the statement fails as written on {table}.",
       "drop the ALGORITHM/LOCK clause and run it off-peak (it copies the table)",
       "or run it with gh-ost / pt-online-schema-change"),
    _r("mysql-table-copy", LR, EX, "{detail} copies {table}, blocking writes until it finishes.",
       "use ALGORITHM=INPLACE, LOCK=NONE (or INSTANT) so MySQL refuses instead of copying",
       "or run it with gh-ost / pt-online-schema-change"),
]}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]
