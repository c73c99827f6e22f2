"""MySQL/MariaDB column changes, judged twice: what old code can still do, and what InnoDB must do.

Compatibility (the same kinds as PostgreSQL's, catalog.py): a widening keeps every value and every
write of the old code (INT -> BIGINT, BLOB -> MEDIUMBLOB, VARCHAR(n) -> VARCHAR(m > n) or TEXT,
ENUM values appended); a narrowing or a change of representation does not.

Lock cost (InnoDB online DDL, MySQL 8.0 / MariaDB 10.x): a data type change copies the table and
blocks writes, with three exceptions done in place with concurrent DML: VARCHAR/VARBINARY growth
that keeps the length prefix (1 byte up to 255 bytes: 63 utf8mb4 characters), ENUM/SET values
appended at the end, and changes of NULL-ness, default or ON UPDATE. A collation change copies too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Lock = Literal["none", "inplace", "copy"]
Kind = Literal["same", "widening", "narrowing", "representation"]

_INTS = ["TINYINT", "SMALLINT", "MEDIUMINT", "INT", "BIGINT"]
_TEXTS = ["TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT"]
_BLOBS = ["TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB"]
_CAPACITY = {"TINYTEXT": 255, "TEXT": 65535, "MEDIUMTEXT": 16777215, "LONGTEXT": 4294967295}
_BYTES_PER_CHAR = 4  # utf8mb4
_TYPE = re.compile(r"^(\w+)(?:\((.*)\))?(\s+UNSIGNED)?", re.IGNORECASE)
# Targets a MODIFY most likely widens to when the old definition is unknown (MySQL converts any type).
_WIDENING_TARGETS = {"BIGINT", "INT", "MEDIUMINT", "MEDIUMTEXT", "LONGTEXT", "TEXT", "MEDIUMBLOB", "LONGBLOB", "BLOB",
                     "DOUBLE", "DECIMAL", "VARCHAR", "VARBINARY", "DATETIME"}


@dataclass
class MyColumn:
    type: str  # as sqlglot prints it for MySQL: VARCHAR(64), INT UNSIGNED, ENUM('a', 'b')
    not_null: bool = False
    collate: str | None = None
    has_default: bool = False
    stated_null: bool = False  # the definition says NULL or NOT NULL explicitly


@dataclass(frozen=True)
class MyChange:
    kind: Kind
    lock: Lock  # none: metadata only; inplace: rebuilt or changed with concurrent DML; copy: writes blocked
    detail: str = ""
    assumed: str | None = None


def _parts(t: str) -> tuple[str, list[str], bool]:
    m = _TYPE.match(t.strip())
    if m is None:
        return t.upper(), [], False
    name = m.group(1).upper()
    name = {"INTEGER": "INT", "BOOL": "TINYINT", "BOOLEAN": "TINYINT", "NUMERIC": "DECIMAL", "REAL": "DOUBLE"}.get(
        name, name)
    args = [a.strip() for a in m.group(2).split(",")] if m.group(2) else []
    return name, args, bool(m.group(3))


def _num(args: list[str], i: int, default: int) -> int:
    try:
        return int(args[i])
    except (IndexError, ValueError):
        return default


def _prefix_bytes(name: str, length: int) -> int:
    per = 1 if name == "VARBINARY" else _BYTES_PER_CHAR
    return 1 if length * per <= 255 else 2


def type_change(old: str, new: str, mariadb_instant_varchar: bool = False) -> MyChange:
    """Compatibility and lock cost of changing a column's type from `old` to `new` (both known).

    MariaDB 10.4.3+ extends a VARCHAR instantly even when its length prefix grows (checked on 10.11).
    """
    (on, oa, ou), (nn, na, nu) = _parts(old), _parts(new)
    if (on, oa, ou) == (nn, na, nu) or (on == nn == "TINYINT" and not ou and not nu):
        return MyChange("same", "none")
    what = f"{old} -> {new}"
    if on == nn and on in ("VARCHAR", "VARBINARY"):
        a, b = _num(oa, 0, 0), _num(na, 0, 0)
        if b < a:
            return MyChange("narrowing", "copy", what)
        same_prefix = _prefix_bytes(on, a) == _prefix_bytes(nn, b) or mariadb_instant_varchar
        return MyChange("widening", "inplace" if same_prefix else "copy",
                        what + ("" if same_prefix else " (its length prefix grows from 1 to 2 bytes)"))
    if on == nn and on in ("ENUM", "SET"):
        if na[: len(oa)] == oa:
            return MyChange("widening", "none" if len(na) <= 255 else "copy", what)
        return MyChange("narrowing" if set(oa) - set(na) else "representation", "copy", what)
    if on in _INTS and nn in _INTS:
        up, same = _INTS.index(nn) > _INTS.index(on), _INTS.index(nn) == _INTS.index(on)
        keeps = (up or same) if ou == nu else (up and ou and not nu)  # signed -> unsigned loses negatives
        return MyChange("widening" if keeps else "narrowing", "copy", what)
    for family in (_TEXTS, _BLOBS):
        if on in family and nn in family:
            up = family.index(nn) >= family.index(on)
            return MyChange("widening" if up else "narrowing", "copy", what)
    if on in ("CHAR", "VARCHAR") and (nn in _TEXTS or nn in ("CHAR", "VARCHAR")):
        cap = _CAPACITY.get(nn, _num(na, 0, 1) if nn != "TEXT" else 65535)
        if nn in _TEXTS:
            cap //= _BYTES_PER_CHAR
        return MyChange("widening" if cap >= _num(oa, 0, 1) else "narrowing", "copy", what)
    if on in ("BINARY", "VARBINARY") and (nn in _BLOBS or nn in ("BINARY", "VARBINARY")):
        return MyChange("widening" if nn in _BLOBS or _num(na, 0, 1) >= _num(oa, 0, 1) else "narrowing", "copy", what)
    if on == nn == "DECIMAL":
        op, os_, np_, ns = _num(oa, 0, 10), _num(oa, 1, 0), _num(na, 0, 10), _num(na, 1, 0)
        return MyChange("widening" if ns >= os_ and np_ - ns >= op - os_ else "narrowing", "copy", what)
    if on in _INTS and nn in ("DECIMAL", "DOUBLE"):
        return MyChange("widening", "copy", what)
    if (on, nn) in {("FLOAT", "DOUBLE"), ("DATE", "DATETIME"), ("TIMESTAMP", "DATETIME")}:
        return MyChange("widening", "copy", what)
    if on == nn and on in ("DATETIME", "TIMESTAMP", "TIME"):
        return MyChange("widening" if _num(na, 0, 0) >= _num(oa, 0, 0) else "narrowing", "copy", what)
    return MyChange("representation", "copy", what)


def column_change(old: MyColumn | None, new: MyColumn, *, online_clause: bool,
                  mariadb_instant_varchar: bool = False) -> tuple[MyChange, bool | None]:
    """The type change and the new NULL-ness (`True`: made NOT NULL, `False`: NOT NULL dropped, None: same).

    With the old definition unknown: an ALGORITHM=INSTANT/INPLACE clause means the server will refuse
    a copy, so the change is one it does in place (a compatible widening); otherwise a widening to
    the stated type is assumed for types people widen to, and for other types that the statement
    restates the type to change NULL-ness (its explicit NULL / NOT NULL). Each assumption is reported.
    """
    if old is not None:
        change = type_change(old.type, new.type, mariadb_instant_varchar)
        if change.kind == "same" and (old.collate or None) != (new.collate or None) and new.collate:
            change = MyChange("same", "copy", f"collation {old.collate or 'default'} -> {new.collate}")
        nullness = None if old.not_null == new.not_null else new.not_null
        return change, nullness
    name = _parts(new.type)[0]
    if new.collate and not online_clause:
        return MyChange("same", "copy", f"collation -> {new.collate}",
                        assumed=f"the stated collation {new.collate} is a change (old definition unknown)"), None
    if online_clause:
        return MyChange("widening", "inplace", assumed="a change InnoDB makes in place, as the ALGORITHM clause "
                                                       "demands (old definition unknown)"), None
    if name in _WIDENING_TARGETS:
        lock: Lock = "inplace" if name in ("VARCHAR", "VARBINARY") else "copy"
        return MyChange("widening", lock, new.type, assumed=f"a narrower type widened to {new.type} "
                                                             "(old definition unknown)"), None
    if new.stated_null:
        return MyChange("same", "inplace", assumed=f"the type stays {new.type} and only NULL-ness changes "
                                                   "(old definition unknown)"), new.not_null
    return MyChange("representation", "copy", new.type, assumed="old definition unknown"), None
