"""The builtin reverse proxy: `python -m turnout.proxy`.

A separate small program (it imports nothing else from turnout; an import-linter contract keeps it so)
that is the embedded default router of the blue-green tool:

- the *production* listener sends each request to the active color, or splits by weight for a canary;
- the *test* listener always sends to the idle color (the one that is not dominant: dominant is green if
  green's weight > blue's, else blue);
- an admin API (HTTP/1.1 JSON, bearer token) changes backends and weights and serves Prometheus metrics.

The color is chosen per request from one snapshot of the routing state, so a switch applies to the very
next request, also on an open keep-alive connection, while requests already in flight finish on their color.

CLI::

    python -m turnout.proxy --production 127.0.0.1:PORT --test 127.0.0.1:PORT
        --admin 127.0.0.1:PORT|unix:/path --token-file PATH --state-file PATH
        [--drain SECONDS=30] [--workers N=1] [--log-file PATH] [--header-timeout 10] [--idle-timeout 60]
        [--connect-timeout 3] [--upstream-timeout 60]

Exit 2 with one line on stderr if a port is taken, the token file is missing/empty or the state file is
broken. SIGTERM: stop accepting, close idle connections, let in-flight requests finish (up to --drain), exit 0.

Admin API (all but /healthz need ``Authorization: Bearer <token>``, else 401; errors are ``{"error": ...}``)::

    GET  /healthz   -> {"ok": true}
    GET  /state     -> {"weights": {"blue": 100, "green": 0}, "test": "green", "backends": {...},
                        "healthy": {...}, "inflight": {"blue": 0, "green": 0}, "generation": 7, "pid": 1234}
    PUT  /backends  {"blue": ["h:p", ...], "green": [...]}    (a color left out keeps its list) -> state
    PUT  /route     {"weights": {"blue": 0, "green": 100}}    (ints >= 0 summing to 100, else 400) -> state,
                    answered once the change is in effect (in every worker)
    GET  /metrics   -> Prometheus text: turnout_proxy_requests_total{listener,color,code},
                       turnout_proxy_upstream_errors_total, turnout_proxy_request_duration_seconds (histogram),
                       turnout_proxy_inflight_requests, turnout_proxy_rejected_total, turnout_proxy_weight,
                       turnout_proxy_generation

Every change is written to the state file (tmp + fsync + rename) before it is applied; a restarted proxy
reads it and serves the last weights and backends.

Modules: `state` (routing snapshot, backends, persistence), `upstream` (pooled upstream connections),
`downstream` (the client-facing protocol), `metrics`, `admin`, `app` (CLI, listeners, sweeper, drain),
`master` and `worker` (the --workers N > 1 process model).
"""
