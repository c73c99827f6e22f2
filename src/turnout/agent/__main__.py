import sys

from turnout.agent.server import main

sys.exit(main())
