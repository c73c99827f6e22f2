"""The `turnout` command: thin commands over the control API, and one error handler.

Exit codes are the table in turnout.errors: each turnout error carries its own; anything else is a
bug (70, traceback printed); 130 when interrupted.

Commands are in commands.py (agent operations and local ones), migrate.py (`turnout migrate`) and
demo.py (`turnout demo`); render.py turns typed values into text. Heavy imports (the engine, the
drivers, the config schema, rich) happen inside the commands that need them.
"""

from __future__ import annotations

import sys

import click

from turnout.cli.commands import group
from turnout.errors import BUG_EXIT, INTERRUPTED_EXIT, TurnoutError

__all__ = ["group", "main"]


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        group.main(standalone_mode=False)
    except click.exceptions.Abort:
        print("interrupted", file=sys.stderr)
        sys.exit(INTERRUPTED_EXIT)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except TurnoutError as exc:
        if debug:
            raise
        from turnout.cli.render import err, paint

        err(f"{paint('error:', 'red')} {exc}")
        if exc.hint:
            err(f"hint: {exc.hint}")
        sys.exit(exc.exit_code)
    except Exception:
        import traceback

        traceback.print_exc()
        print("this is a bug in turnout; please report it with the traceback above", file=sys.stderr)
        sys.exit(BUG_EXIT)
