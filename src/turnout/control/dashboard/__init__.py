"""The dashboard the agent serves at / on [api] listen: static files, no build step."""
