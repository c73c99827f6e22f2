"""SQL migration safety for blue-green deploys: static checks, shadow check, expand/contract runner.

The deploy orchestrator uses `Migrations` (runner.py); `turnout migrate` is cli.py.
"""

from turnout.migrate.check import Checker, check_paths
from turnout.migrate.context import CheckOptions, TxMode
from turnout.migrate.findings import FileReport, Finding, Phase, Report, Verdict
from turnout.migrate.runner import Migration, Migrations, PlanItem, discover
from turnout.migrate.settings import DatabaseSettings

__all__ = [
    "CheckOptions", "Checker", "DatabaseSettings", "FileReport", "Finding", "Migration", "Migrations", "Phase",
    "PlanItem", "Report", "TxMode", "Verdict", "check_paths", "discover",
]
