"""Where each key of a turnout.toml is written, so every error can name its line."""

from __future__ import annotations

import re

from turnout.errors import Key

_ARRAY_TABLE = re.compile(r"^\[\[\s*([^\]]+?)\s*\]\]")
_TABLE = re.compile(r"^\[\s*([^\]]+?)\s*\]")
_KEY = re.compile(r'^("?[\w.-]+"?(?:\s*\.\s*"?[\w-]+"?)*)\s*=')


def _parts(text: str) -> tuple[str, ...]:
    return tuple(p.strip().strip('"') for p in text.split("."))


def key_lines(text: str) -> dict[Key, int]:
    """Map key paths (tables, array tables with their index, keys) to the line they are written on."""
    lines: dict[Key, int] = {}
    table: Key = ()
    arrays: dict[Key, int] = {}
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if m := _ARRAY_TABLE.match(line):
            base = _parts(m.group(1))
            arrays[base] = arrays.get(base, -1) + 1
            table = (*base, arrays[base])
            lines.setdefault(base, no)
            lines[table] = no
        elif m := _TABLE.match(line):
            table = _parts(m.group(1))
            lines.setdefault(table, no)
        elif m := _KEY.match(line):
            lines.setdefault((*table, *_parts(m.group(1))), no)
    return lines


def line_of(key: Key, lines: dict[Key, int]) -> int | None:
    """The line of `key`, else of the nearest table it sits in."""
    for n in range(len(key), 0, -1):
        if key[:n] in lines:
            return lines[key[:n]]
    return None


def where(key: Key, source: str, lines: dict[Key, int]) -> str:
    """' (turnout.toml line N)', or ' (turnout.toml)' for a key that is not written (a missing one)."""
    line = line_of(key, lines)
    return f" ({source} line {line})" if line else f" ({source})"
