"""`python -m turnout.cli`: the same as the `turnout` command."""

from turnout.cli import main

main()
