"""Quantiles of a latency histogram given as counts per bucket (upper bounds, +Inf last): the
form routers report their live traffic in. Linear interpolation inside the bucket, as
Prometheus' histogram_quantile does."""

from __future__ import annotations

import math
from collections.abc import Sequence


def quantile(bounds: Sequence[float], buckets: Sequence[int], q: float) -> float | None:
    """The q-quantile (0..1) in the bounds' unit; None without observations. A quantile that falls
    in the +Inf bucket is reported as the last finite bound: that is all the histogram knows."""
    total = sum(buckets)
    if not total or not bounds:
        return None
    rank, seen, lower = q * total, 0, 0.0
    for upper, n in zip((*bounds, math.inf), buckets, strict=False):
        if n and seen + n >= rank:
            return bounds[-1] if math.isinf(upper) else lower + (upper - lower) * (rank - seen) / n
        seen, lower = seen + n, upper
    return bounds[-1]
