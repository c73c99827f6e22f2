"""`python -m turnout.control`: the agent process (`turnout up` starts it)."""

import sys

from turnout.control.server import main

sys.exit(main())
