"""Libraries for the apps turnout deploys, outside turnout's own layers (nothing in turnout imports them)."""
