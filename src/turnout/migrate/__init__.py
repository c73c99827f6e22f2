"""SQL migration safety for blue-green deploys: static checks, shadow check, expand/contract runner.

The deploy orchestrator uses `Migrations` (runner.py); `turnout migrate` is turnout.cli.migrate.

Names are imported on first use (PEP 562): `turnout migrate check` must start fast, and the runner
(psycopg, the config schema) or the parsers (pglast, sqlglot) are only loaded by what needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from turnout.migrate.check import Checker, check_paths
    from turnout.migrate.context import CheckOptions, TxMode
    from turnout.migrate.findings import FileReport, Finding, Phase, Report, Verdict
    from turnout.migrate.runner import Migration, Migrations, PlanItem, discover
    from turnout.migrate.settings import DatabaseSettings

_WHERE = {
    "Checker": "check", "check_paths": "check", "CheckOptions": "context", "TxMode": "context",
    "FileReport": "findings", "Finding": "findings", "Phase": "findings", "Report": "findings", "Verdict": "findings",
    "Migration": "runner", "Migrations": "runner", "PlanItem": "runner", "discover": "runner",
    "DatabaseSettings": "settings",
}

__all__ = [
    "CheckOptions", "Checker", "DatabaseSettings", "FileReport", "Finding", "Migration", "Migrations", "Phase",
    "PlanItem", "Report", "TxMode", "Verdict", "check_paths", "discover",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'turnout.migrate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"turnout.migrate.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
