"""Public test helpers for driver authors and turnout's own tests. Importable without pytest.

backends   ColorBackends: small HTTP servers answering with their color, on free loopback ports
contracts  the contract suites every driver passes (pytest)
"""
