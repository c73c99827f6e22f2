"""Docs generated from the code stay in step with it."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from turnout import errors
from turnout.cli import reference
from turnout.config.schema import Config

ROOT = Path(__file__).resolve().parents[1]


def test_config_reference_is_generated_from_the_schema() -> None:
    assert (ROOT / "docs" / "config.md").read_text() == reference.render(), (
        "docs/config.md is stale: python -m turnout.cli.reference > docs/config.md")


def _keys(model: type[BaseModel]) -> set[str]:
    return {f.alias or n for n, f in model.model_fields.items() if not f.exclude}


def test_every_key_the_schema_accepts_is_documented_and_nothing_else() -> None:
    text = (ROOT / "docs" / "config.md").read_text()
    documented: dict[str, set[str]] = {}
    section = parent = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = parent = line[3:].strip("` ")
        elif m := re.match(r"^### each table of `(\w+)`", line):
            section = f"{parent} / {m.group(1)}"  # a table inside a driver's options
        elif m := re.match(r"^\| `([^`]+)` \|", line):
            documented.setdefault(section, set()).add(m.group(1))
    for heading, model in reference.sections(Config, ""):
        nested = {n for n, f in model.model_fields.items() if reference._model(f.annotation) is not None}
        expected = _keys(model) - (nested if model is Config else set())
        assert documented.get(heading or "Top level", set()) == expected, heading
    for heading, model in reference.drivers():
        assert documented.get(heading) == _keys(model), heading
        for name, field in model.model_fields.items():
            if (sub := reference._model(field.annotation)) is not None:
                assert documented.get(f"{heading} / {name}") == _keys(sub), f"{heading} / {name}"


def test_the_readme_lists_exactly_the_exit_codes_of_errors_py() -> None:
    codes = {cls.exit_code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.TurnoutError)}
    readme = (ROOT / "README.md").read_text()
    line = next(ln for ln in readme.splitlines() if ln.startswith("Exit codes:"))
    listed = {int(n) for n in re.findall(r"(?:^Exit codes:|,|;) (\d+) ", line)}
    assert listed == codes | {0, errors.BUG_EXIT, errors.INTERRUPTED_EXIT}, line
