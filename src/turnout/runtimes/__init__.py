"""Where a color's instances run. Each runtime implements `turnout.protocols.Runtime` and is found
by name through the `turnout.runtimes` entry points (`process` is the embedded default)."""
