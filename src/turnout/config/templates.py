"""Placeholders in commands and names (`{version}`, `{port}`, `{test_url}`...): the one rule.

`{name}` is a placeholder; `{{` and `}}` are literal braces; `${NAME}` is left to the shell.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

RUNTIME = frozenset({"version", "color", "port", "instance"})  # runtime.command, runtime.env
CHECK = frozenset({"test_url", "production_url", "version", "color"})  # a check's command

_TOKEN = re.compile(r"\{\{|\}\}|(?<!\$)\{(\w*)\}")


def names(text: str) -> list[str]:
    return [m.group(1) for m in _TOKEN.finditer(text) if m.group(1) is not None]


def check(text: str, allowed: Iterable[str]) -> str:
    """`text` if every placeholder in it is allowed, else ValueError naming the first unknown one."""
    known = frozenset(allowed)
    for name in names(text):
        if name not in known:
            listed = ", ".join(f"{{{a}}}" for a in sorted(known))
            raise ValueError(f"unknown placeholder {{{name}}}; use {listed}")
    return text


def fill(text: str, values: Mapping[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)[0]  # {{ -> {, }} -> }
        return values.get(m.group(1), m.group(0))

    return _TOKEN.sub(sub, text)
