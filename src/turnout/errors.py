"""Every error turnout raises on purpose, and the one table of exit codes. Anything else reaching
the CLI is a bug (exit 70, traceback printed).

    TurnoutError                    exit 1
    ├── ConfigError                 exit 2   bad turnout.toml or driver options
    ├── UsageError                  exit 2   CLI misuse the parser could not catch
    ├── LockHeld                    exit 3   another deploy holds the lock
    ├── ValidationFailed            exit 4   a check failed; nothing was switched
    ├── IllegalTransition           exit 5   the phase table forbids this step
    ├── StaleState                  exit 5   compare-and-swap lost against another writer
    ├── NotReady                    exit 6   target color not warm / unhealthy: refuse to switch
    ├── RouterError                 exit 7   the router is down or refused the change
    ├── RuntimeFailure              exit 8   instances would not start or stay up
    ├── RollbackFailed              exit 9   switching back did not take
    ├── AgentUnavailable            exit 10  the local agent is not running
    ├── MigrationError              exit 11  unparseable or unsafe SQL, migration run failed
    ├── AutoRolledBack              exit 12  the release went live, a trigger fired, traffic went back
    ├── StateDamaged                exit 13  the state store is unreadable, corrupt or tampered with
    ├── Aborted                     exit 14  an operation was stopped by `turnout abort`; nothing switched
    ├── GateClosed                  exit 15  a gate (webhook or approval) said no: halted or traffic back
    └── Forbidden                   exit 16  the API token's role may not do this
    (not a TurnoutError)            exit 70  a bug in turnout; exit 130 when interrupted (Ctrl-C)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

BUG_EXIT = 70
INTERRUPTED_EXIT = 130
Key = tuple[str | int, ...]


def dotted(key: Key) -> str:
    """One notation for a key path in turnout.toml: `checks[1].timeout`, `router.options.socket`."""
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class TurnoutError(Exception):
    exit_code = 1
    hint = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the config: where (key path, then file and line once known) and what."""

    key: Key
    message: str
    where: str = ""  # " (turnout.toml line 12)", added by Config.locate

    def __str__(self) -> str:
        return f"{dotted(self.key)}: {self.message}{self.where}" if self.key else f"{self.message}{self.where}"


class ConfigError(TurnoutError):
    """Bad turnout.toml or driver options. Carries the key path of every problem from where it was
    raised, so the file and line are added structurally (`Config.locate`), never by parsing text."""

    exit_code = 2

    def __init__(self, message: str = "", *, key: Key = (), hint: str = "",
                 problems: Sequence[Problem] = ()) -> None:
        self.problems = tuple(problems) or (Problem(tuple(key), message),)
        super().__init__("; ".join(str(p) for p in self.problems), hint=hint)

    def under(self, *prefix: str | int) -> ConfigError:
        """The same problems with `prefix` in front of their keys (a driver's options sit under a section)."""
        return ConfigError(hint=self.hint, problems=[replace(p, key=(*prefix, *p.key)) for p in self.problems])

    def located(self, where: Callable[[Key], str]) -> ConfigError:
        return ConfigError(hint=self.hint,
                           problems=[p if p.where else replace(p, where=where(p.key)) for p in self.problems])


class UsageError(TurnoutError):
    exit_code = 2


class LockHeld(TurnoutError):
    exit_code = 3


class ValidationFailed(TurnoutError):
    exit_code = 4


class IllegalTransition(TurnoutError):
    exit_code = 5


class StaleState(TurnoutError):
    exit_code = 5


class NotReady(TurnoutError):
    exit_code = 6


class RouterError(TurnoutError):
    exit_code = 7


class RuntimeFailure(TurnoutError):
    exit_code = 8


class RollbackFailed(TurnoutError):
    exit_code = 9


class AgentUnavailable(TurnoutError):
    exit_code = 10
    hint = "start it with `turnout up --detach`"


class MigrationError(TurnoutError):
    exit_code = 11


class AutoRolledBack(TurnoutError):
    exit_code = 12


class StateDamaged(TurnoutError):
    exit_code = 13


class Aborted(TurnoutError):
    exit_code = 14


class GateClosed(TurnoutError):
    exit_code = 15


class Forbidden(TurnoutError):
    exit_code = 16
