"""turnout: blue-green deployments with an atomic switch and verified rollback."""

__version__ = "0.1.0"
