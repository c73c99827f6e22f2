"""docs/config.md, generated from the schema: every key, its type, default and meaning.

`python -m turnout.cli.reference > docs/config.md` writes it; a test fails when the file and the
schema differ. Driver sections (router/runtime options, each check's keys) come from the Options
models the registered drivers declare.
"""

from __future__ import annotations

import json
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from turnout.config import CheckConfig, Config, parse_duration

HEADER = """# turnout.toml reference

Generated from the schema by `python -m turnout.cli.reference` (a test keeps this file and the
schema in step). Durations take `500ms`, `30s`, `15m`, `24h` or a number of seconds. Every error
names its key and line: `checks[1].timeout: ... (turnout.toml line 12)`; `turnout check-config`
lists them all.
"""


def type_name(annotation: Any) -> str:
    """A short, human name of a field's type."""
    if annotation is None or annotation is type(None):
        return "none"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return "duration" if any(getattr(m, "func", None) is parse_duration for m in args[1:]) else type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [type_name(a) for a in args if a is not type(None)]
        return " or ".join(dict.fromkeys(names)) + (" (optional)" if type(None) in args else "")
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (list, tuple):
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"table of {type_name(args[1])}" if len(args) == 2 else "table"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return {str: "string", int: "integer", float: "number", bool: "boolean", Any: "any"}.get(
        annotation, getattr(annotation, "__name__", str(annotation)))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    factory = field.default_factory
    value = factory() if factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined or isinstance(value, BaseModel):
        return ""
    if value is None:
        return "none"
    return f"`{json.dumps(value) if not isinstance(value, float) else f'{value:g}'}`"


def _model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (a table), its list's (an array of tables), or its table values'."""
    for candidate in (annotation, *typing.get_args(annotation)):
        inner = typing.get_args(candidate)[0] if typing.get_origin(candidate) is typing.Annotated else candidate
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return None


def rows(model: type[BaseModel]) -> Iterator[tuple[str, str, str, str]]:
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        key = field.alias or name
        duration = any(getattr(m, "func", None) is parse_duration for m in field.metadata)
        kind = type_name(field.annotation).replace("number", "duration") if duration else type_name(field.annotation)
        yield key, kind, _default(field), field.description or ""


def table(model: type[BaseModel], skip: frozenset[str] = frozenset()) -> list[str]:
    out = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for key, kind, default, meaning in rows(model):
        if key not in skip:
            out.append(f"| `{key}` | {kind} | {default.replace('|', chr(92) + '|')} | "
                       f"{meaning.replace('|', chr(92) + '|')} |")
    return out


def sections(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, type[BaseModel]]]:
    """(heading, model) for `model` and every table below it, depth first."""
    yield prefix, model
    for name, field in model.model_fields.items():
        sub = _model(field.annotation)
        if sub is None or field.exclude:
            continue
        origin = typing.get_origin(field.annotation)
        if origin is list:
            yield from sections(sub, f"[[{name}]]")
        elif origin is dict:
            yield from sections(sub, f"[{prefix.strip('[]')}.{name}.<name>]".replace("[.", "["))
        else:
            yield from sections(sub, f"[{prefix.strip('[]')}.{name}]".replace("[.", "["))


def drivers() -> Iterator[tuple[str, type[BaseModel]]]:
    """(heading, Options model) of every registered driver that takes options."""
    from turnout import plugins

    for kind, section in (("routers", "router"), ("runtimes", "runtime")):
        for name in plugins.names(kind):
            cls = plugins.load(kind, name, key=(section, "kind"))
            if cls.Options.model_fields:
                yield f"[{section}.options] with {section}.kind = \"{name}\"", cls.Options
    for name in plugins.names("checks"):
        cls = plugins.load("checks", name, key=("checks", "kind"))
        if cls.Options.model_fields:
            yield f"[[checks]] with kind = \"{name}\"", cls.Options


def render() -> str:
    out = [HEADER]
    for heading, model in sections(Config, ""):
        if model is Config:
            out += ["## Top level", "", *table(Config, skip=frozenset(
                n for n, f in Config.model_fields.items() if _model(f.annotation) is not None)), ""]
            continue
        doc = (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
        out += [f"## `{heading}`", "", *([doc, ""] if doc and model is not CheckConfig else []), *table(model), ""]
    out += ["# Driver options", "",
            "Each driver validates its own table with its Options model; unknown keys are errors.", ""]
    for heading, model in drivers():
        out += [f"## `{heading}`", "", *table(model), ""]
        for name, field in model.model_fields.items():  # tables inside the options (docker's hosts)
            if (sub := _model(field.annotation)) is not None:
                out += [f"### each table of `{name}`", "", *table(sub), ""]
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
