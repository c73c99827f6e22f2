"""Counters per listener and color. The hot path only bumps ints in lists; text is built on scrape."""

from __future__ import annotations

from bisect import bisect_left

from turnout.proxy.state import COLORS

LISTENERS = ("production", "test")
BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Stats:
    __slots__ = ("buckets", "errors", "inflight", "requests", "sum")

    def __init__(self) -> None:
        self.requests = [0] * 6  # index = status // 100; 0 = no status (client went away first)
        self.errors = 0  # upstream connect failures, resets, truncated responses
        self.buckets = [0] * (len(BOUNDS) + 1)  # non-cumulative; the last one is +Inf
        self.sum = 0.0
        self.inflight = 0

    def observe(self, status: int, seconds: float) -> None:
        self.requests[status // 100 if 100 <= status < 600 else 0] += 1
        self.buckets[bisect_left(BOUNDS, seconds)] += 1
        self.sum += seconds

    def merge(self, other: Stats) -> None:
        for i, v in enumerate(other.requests):
            self.requests[i] += v
        for i, v in enumerate(other.buckets):
            self.buckets[i] += v
        self.errors += other.errors
        self.sum += other.sum
        self.inflight += other.inflight

    def to_list(self) -> list[object]:
        return [self.requests, self.errors, self.buckets, self.sum, self.inflight]

    @classmethod
    def from_list(cls, data: list[object]) -> Stats:
        s = cls()
        s.requests, s.errors, s.buckets, s.sum, s.inflight = data  # type: ignore[assignment]
        return s


class Metrics:
    """stats[listener][color]: Stats, indexed by LISTENERS and COLORS positions."""

    def __init__(self) -> None:
        self.stats = [[Stats() for _ in COLORS] for _ in LISTENERS]
        self.rejected = [0 for _ in LISTENERS]  # malformed / oversized / timed-out requests (no color yet)

    def inflight(self) -> dict[str, int]:
        return {c: sum(self.stats[li][ci].inflight for li in range(len(LISTENERS))) for ci, c in enumerate(COLORS)}


def traffic(m: Metrics) -> dict[str, object]:
    """The production listener's counters per color, for the post-switch watch (GET /traffic):
    cheaper to read ten times a second than the Prometheus text."""
    li = LISTENERS.index("production")
    colors = {color: {"requests": sum(s.requests[1:]), "errors": s.requests[5], "buckets": list(s.buckets)}
              for color, s in zip(COLORS, m.stats[li], strict=True)}
    return {"bounds": list(BOUNDS), "colors": colors}


def render(m: Metrics, weights: tuple[int, int], generation: int) -> str:
    out: list[str] = []
    add = out.append
    add("# HELP turnout_proxy_requests_total Requests answered, by listener, color and status class.")
    add("# TYPE turnout_proxy_requests_total counter")
    for li, lname in enumerate(LISTENERS):
        for ci, color in enumerate(COLORS):
            s = m.stats[li][ci]
            for k, n in enumerate(s.requests):
                code = f"{k}xx" if k else "none"
                if n or k == 2:
                    add(f'turnout_proxy_requests_total{{listener="{lname}",color="{color}",code="{code}"}} {n}')
    add("# HELP turnout_proxy_upstream_errors_total Failed upstream connects, resets and truncated responses.")
    add("# TYPE turnout_proxy_upstream_errors_total counter")
    for li, lname in enumerate(LISTENERS):
        for ci, color in enumerate(COLORS):
            add(f'turnout_proxy_upstream_errors_total{{listener="{lname}",color="{color}"}} {m.stats[li][ci].errors}')
    add("# HELP turnout_proxy_request_duration_seconds Time from request head to the end of the response.")
    add("# TYPE turnout_proxy_request_duration_seconds histogram")
    for li, lname in enumerate(LISTENERS):
        for ci, color in enumerate(COLORS):
            s = m.stats[li][ci]
            labels = f'listener="{lname}",color="{color}"'
            total = 0
            for bound, n in zip((*BOUNDS, "+Inf"), s.buckets, strict=True):
                total += n
                add(f'turnout_proxy_request_duration_seconds_bucket{{{labels},le="{bound}"}} {total}')
            add(f"turnout_proxy_request_duration_seconds_sum{{{labels}}} {s.sum:.6f}")
            add(f"turnout_proxy_request_duration_seconds_count{{{labels}}} {total}")
    add("# HELP turnout_proxy_inflight_requests Requests being proxied now.")
    add("# TYPE turnout_proxy_inflight_requests gauge")
    for li, lname in enumerate(LISTENERS):
        for ci, color in enumerate(COLORS):
            add(f'turnout_proxy_inflight_requests{{listener="{lname}",color="{color}"}} {m.stats[li][ci].inflight}')
    add("# HELP turnout_proxy_rejected_total Requests refused before routing (malformed, too large, timed out).")
    add("# TYPE turnout_proxy_rejected_total counter")
    for li, lname in enumerate(LISTENERS):
        add(f'turnout_proxy_rejected_total{{listener="{lname}"}} {m.rejected[li]}')
    add("# HELP turnout_proxy_weight Share of production traffic per color, percent.")
    add("# TYPE turnout_proxy_weight gauge")
    for color, w in zip(COLORS, weights, strict=True):
        add(f'turnout_proxy_weight{{color="{color}"}} {w}')
    add("# HELP turnout_proxy_generation Routing state generation (bumped on every change).")
    add("# TYPE turnout_proxy_generation gauge")
    add(f"turnout_proxy_generation {generation}")
    return "\n".join(out) + "\n"
