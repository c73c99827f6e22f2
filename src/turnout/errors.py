"""Every error turnout raises on purpose. Anything else reaching the CLI is a bug.

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
    └── AutoRolledBack              exit 12  the release went live, a trigger fired, traffic went back
"""

from __future__ import annotations


class TurnoutError(Exception):
    exit_code = 1
    hint = ""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint


class ConfigError(TurnoutError):
    exit_code = 2


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
