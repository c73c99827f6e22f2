"""What a load run measured: counts, errors by kind, latencies, colors seen. JSON-able."""

from __future__ import annotations

import random
import time
from array import array
from dataclasses import dataclass, field
from typing import Any

ERROR_KINDS = ("connect", "timeout", "reset", "closed", "truncated", "protocol", "non_2xx")
MAX_SAMPLES = 200_000  # latency reservoir: exact percentiles up to here, a uniform sample beyond


@dataclass
class LoadResult:
    url: str = ""
    requests: int = 0
    ok: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    colors: dict[str, int] = field(default_factory=dict)
    color_failures: dict[str, int] = field(default_factory=dict)  # non-2xx answers per color
    first_seen: dict[str, float] = field(default_factory=dict)  # time.time() per color
    last_seen: dict[str, float] = field(default_factory=dict)
    first_failure_at: float | None = None
    last_failure_at: float | None = None
    error_samples: list[str] = field(default_factory=list)  # a few messages a human can act on
    latencies: array[float] = field(default_factory=lambda: array("d"))  # seconds, successful ones
    latency_count: int = 0  # all successful latencies, including those the reservoir dropped
    started: float = 0.0
    ended: float = 0.0
    _sorted: list[float] = field(default_factory=list, repr=False, compare=False)
    _sorted_at: int = field(default=-1, repr=False, compare=False)

    @property
    def elapsed(self) -> float:
        return max(self.ended - self.started, 0.0)

    @property
    def rps(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0

    @property
    def unreachable(self) -> bool:
        """Not one connection could be opened: the URL is wrong or nothing listens there."""
        return self.requests > 0 and self.errors.get("connect", 0) == self.requests

    def percentile(self, q: float) -> float | None:
        """Latency (seconds) at quantile q in [0, 1], nearest-rank; None without samples."""
        if not self.latencies:
            return None
        if self._sorted_at != self.latency_count:  # sort once per new data, not per percentile
            self._sorted, self._sorted_at = sorted(self.latencies), self.latency_count
        ordered = self._sorted
        rank = min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.999999) - 1))
        return ordered[rank]

    def p50(self) -> float | None:
        return self.percentile(0.50)

    def p90(self) -> float | None:
        return self.percentile(0.90)

    def p99(self) -> float | None:
        return self.percentile(0.99)

    def max(self) -> float | None:
        return max(self.latencies) if self.latencies else None

    def mean(self) -> float | None:
        return sum(self.latencies) / len(self.latencies) if self.latencies else None

    def as_dict(self) -> dict[str, Any]:
        lat = {k: self.percentile(q) for k, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}
        return {
            "url": self.url, "requests": self.requests, "ok": self.ok, "failed": self.failed,
            "error_rate": self.error_rate, "rps": round(self.rps, 1), "elapsed_s": round(self.elapsed, 4),
            "errors": dict(self.errors), "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "latency_s": {**lat, "max": self.max(), "mean": self.mean(), "samples": self.latency_count},
            "colors": dict(self.colors), "color_failures": dict(self.color_failures),
            "first_seen": dict(self.first_seen), "last_seen": dict(self.last_seen),
            "first_failure_at": self.first_failure_at, "last_failure_at": self.last_failure_at,
            "error_samples": list(self.error_samples), "started": self.started, "ended": self.ended,
        }

    def summary(self) -> str:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v * 1000:.1f}ms"

        lines = [
            f"{self.url}: {self.requests} requests in {self.elapsed:.2f}s ({self.rps:.0f} req/s), "
            f"{self.ok} ok, {self.failed} failed ({self.error_rate:.2%})",
            f"latency p50 {ms(self.p50())}  p90 {ms(self.p90())}  p99 {ms(self.p99())}  max {ms(self.max())}",
        ]
        if self.errors:
            lines.append("errors: " + ", ".join(f"{k}={v}" for k, v in sorted(self.errors.items())))
        if self.colors:
            lines.append("colors: " + ", ".join(f"{k}={v}" for k, v in sorted(self.colors.items())))
        lines.extend(f"  e.g. {s}" for s in self.error_samples[:3])
        return "\n".join(lines)

    def merge(self, other: LoadResult) -> LoadResult:
        """Both runs as one (consecutive segments of a soak, or parallel runs on one URL)."""
        out = LoadResult(url=self.url or other.url, requests=self.requests + other.requests, ok=self.ok + other.ok,
                         failed=self.failed + other.failed, started=min(self.started, other.started),
                         ended=max(self.ended, other.ended))
        for mine, theirs, into in ((self.errors, other.errors, out.errors), (self.colors, other.colors, out.colors),
                                   (self.color_failures, other.color_failures, out.color_failures)):
            for k in mine.keys() | theirs.keys():
                into[k] = mine.get(k, 0) + theirs.get(k, 0)
        for code in self.statuses.keys() | other.statuses.keys():
            out.statuses[code] = self.statuses.get(code, 0) + other.statuses.get(code, 0)
        out.first_seen = {c: min(t for t in (self.first_seen.get(c), other.first_seen.get(c)) if t is not None)
                          for c in self.first_seen.keys() | other.first_seen.keys()}
        out.last_seen = {c: max(t for t in (self.last_seen.get(c), other.last_seen.get(c)) if t is not None)
                         for c in self.last_seen.keys() | other.last_seen.keys()}
        fails = [t for t in (self.first_failure_at, other.first_failure_at) if t is not None]
        out.first_failure_at = min(fails) if fails else None
        lasts = [t for t in (self.last_failure_at, other.last_failure_at) if t is not None]
        out.last_failure_at = max(lasts) if lasts else None
        out.error_samples = (self.error_samples + [e for e in other.error_samples if e not in self.error_samples])[:5]
        out.latencies = array("d", self.latencies)
        out.latencies.extend(other.latencies[: max(0, MAX_SAMPLES - len(out.latencies))])
        out.latency_count = self.latency_count + other.latency_count
        return out

    # -- recording (called by the workers) --

    def _record_response(self, status: int, color: str | None, latency: float) -> None:
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        now = time.time()
        if color is not None:
            self.colors[color] = self.colors.get(color, 0) + 1
            self.first_seen.setdefault(color, now)
            self.last_seen[color] = now
        if 200 <= status < 300:
            self.ok += 1
            self.latency_count += 1
            if len(self.latencies) < MAX_SAMPLES:
                self.latencies.append(latency)
            else:  # reservoir sampling keeps a uniform sample of a long soak in bounded memory
                slot = random.randrange(self.latency_count)
                if slot < MAX_SAMPLES:
                    self.latencies[slot] = latency
        else:
            if color is not None:
                self.color_failures[color] = self.color_failures.get(color, 0) + 1
            self._record_failure("non_2xx", f"HTTP {status}", now)

    def _record_error(self, kind: str, message: str) -> None:
        self.requests += 1
        self._record_failure(kind, message, time.time())

    def _record_failure(self, kind: str, message: str, now: float) -> None:
        self.failed += 1
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if self.first_failure_at is None:
            self.first_failure_at = now
        self.last_failure_at = now
        if len(self.error_samples) < 5 and not any(s.startswith(f"{kind}:") for s in self.error_samples):
            self.error_samples.append(f"{kind}: {message}")
