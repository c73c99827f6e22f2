"""Report renderers: text for people, JSON for scripts, SARIF for code scanning, GitHub annotations."""

from __future__ import annotations

import json
from typing import Any

from turnout.migrate.findings import FileReport, Finding, Report, Verdict
from turnout.migrate.rules import RULES

FORMATS = ("text", "json", "sarif", "github")
_SARIF_LEVEL = {Verdict.DESTRUCTIVE: "error", Verdict.BACKWARD_INCOMPATIBLE: "error", Verdict.LOCK_RISK: "warning",
                Verdict.SAFE: "note"}


def render(report: Report, fmt: str) -> str:
    return {"text": text, "json": as_json, "sarif": sarif, "github": github}[fmt](report)


def as_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2)


def text(report: Report) -> str:
    lines: list[str] = []
    for f in report.files:
        lines.append(f"{f.path}: {f.verdict.value} ({len(f.statements)} statements)")
        if f.error is not None:
            lines.append(f"  {f.path}:{f.error.line}:{f.error.column}: error: {f.error.message}")
        for x in sorted(f.findings, key=lambda x: (x.line, -x.verdict.rank)):
            lines.extend(_finding_text(f.path, x))
        lines.extend(f"  note: {n}" for n in f.notes)
    lines.extend(f"note: {n}" for n in report.notes)
    lines.append(f"verdict: {report.verdict.value}")
    return "\n".join(lines)


def _finding_text(path: str, x: Finding) -> list[str]:
    if x.ignored is not None:
        return [f"  {path}:{x.line}: ignored {x.rule}: {x.ignored}"]
    out = [f"  {path}:{x.line}: {x.verdict.value} [{x.rule}] {x.message}"]
    if x.verdict is not Verdict.SAFE:
        timeout = f"; SET lock_timeout = '{x.lock_timeout}'" if x.lock_timeout else ""
        out.append(f"    phase: {x.phase.value}{timeout}")
        out.extend(f"    {i}. {step}" for i, step in enumerate(x.safe_alternative, 1))
    return out


def github(report: Report) -> str:
    """GitHub Actions workflow commands: one annotation per finding or error."""
    lines = []
    for f in report.files:
        if f.error is not None:
            lines.append(f"::error file={f.path},line={f.error.line},col={f.error.column},"
                         f"title=turnout: SQL error::{_esc(f.error.message)}")
        for x in f.active:
            if x.verdict is Verdict.SAFE:
                continue
            level = "warning" if x.verdict is Verdict.LOCK_RISK else "error"
            msg = f"{x.verdict.value}: {x.message} Safe alternative: " + "; ".join(x.safe_alternative)
            lines.append(f"::{level} file={f.path},line={x.line},title=turnout {x.rule}::{_esc(msg)}")
    return "\n".join(lines)


def _esc(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def sarif(report: Report) -> str:
    used = sorted({x.rule for f in report.files for x in f.findings})
    rules = [{
        "id": rid, "shortDescription": {"text": rid.replace("-", " ")},
        "fullDescription": {"text": RULES[rid].message if rid in RULES else rid},
        "help": {"text": "\n".join(RULES[rid].steps) if rid in RULES else ""},
        "properties": {"verdict": RULES[rid].verdict.value if rid in RULES else "", "phase":
                       RULES[rid].phase.value if rid in RULES else ""},
    } for rid in used]
    results: list[dict[str, Any]] = []
    for f in report.files:
        results.extend(_sarif_result(f, x) for x in f.findings)
        if f.error is not None:
            results.append({"ruleId": "sql-error", "level": "error", "message": {"text": f.error.message},
                            "locations": [_loc(f.path, f.error.line, f.error.column)]})
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "turnout-migrate", "informationUri":
                                      "https://github.com/turnout/turnout", "rules": rules}},
                  "results": results}],
    }
    return json.dumps(doc, indent=2)


def _sarif_result(f: FileReport, x: Finding) -> dict[str, Any]:
    res: dict[str, Any] = {
        "ruleId": x.rule, "level": _SARIF_LEVEL[x.verdict],
        "message": {"text": f"{x.message} Safe alternative: " + "; ".join(x.safe_alternative)},
        "locations": [_loc(f.path, x.line, x.column)],
        "properties": {"verdict": x.verdict.value, "phase": x.phase.value, "lock_timeout": x.lock_timeout},
    }
    if x.ignored is not None:
        res["suppressions"] = [{"kind": "inSource", "justification": x.ignored}]
    return res


def _loc(path: str, line: int, column: int) -> dict[str, Any]:
    return {"physicalLocation": {"artifactLocation": {"uri": path},
                                 "region": {"startLine": max(line, 1), "startColumn": max(column, 1)}}}
