"""The builtin reverse proxy: `python -m turnout.proxy`.

A separate small program (it imports nothing else from turnout; an import-linter contract keeps it so)
that is the embedded default router of the blue-green tool:

- the *production* listener sends each request to the active color, or splits by weight for a canary;
- the *test* listener always sends to the idle color (the one that is not dominant);
- an admin API (HTTP/1.1 JSON, bearer token) changes backends and weights and serves Prometheus metrics.

The color is chosen per request from one snapshot of the routing state, so a switch applies to the very
next request, also on an open keep-alive connection, while requests already in flight finish on their color.

Modules: `state` (routing snapshot, backends, persistence), `upstream` (pooled upstream connections),
`downstream` (the client-facing protocol), `metrics`, `admin`, `app` (CLI, listeners, signals, drain).
"""
