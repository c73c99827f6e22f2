"""The only place that knows the order of steps (core.py); journal.py records every step."""

from turnout.orchestrator.core import Orchestrator
from turnout.orchestrator.journal import Journal, Progress

__all__ = ["Journal", "Orchestrator", "Progress"]
