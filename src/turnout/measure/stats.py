"""Canary-vs-baseline statistics, after Kayenta's judge: pure functions returning a verdict.

Latency: one-sided Mann-Whitney U (is the canary stochastically slower?) and the Hodges-Lehmann
shift (median of all pairwise differences) as the effect size. A FAIL needs both significance and
an effect beyond tolerance, so a statistically real 0.1 ms regression does not block a release.
Error rate: Fisher's exact test, valid at any count, plus an absolute tolerance; a zero-error
baseline therefore still catches a failing canary (Kayenta's zero-baseline pitfall, kayenta#377).
Too few samples on either side is INCONCLUSIVE, never PASS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps

from turnout.model import Verdict

MAX_SAMPLES = 2000  # per side; Hodges-Lehmann is O(n*m), and more points add nothing here


@dataclass(frozen=True)
class Comparison:
    verdict: Verdict
    canary: float | None  # the canary's statistic: error rate, or median latency (seconds)
    baseline: float | None
    p_value: float | None
    effect: float | None  # rate difference, or Hodges-Lehmann latency shift (seconds)
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "canary": self.canary, "baseline": self.baseline,
                "p_value": self.p_value, "effect": self.effect}


def _clean(values: Sequence[float], rng: np.random.Generator) -> np.ndarray[Any, np.dtype[np.float64]]:
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]  # Kayenta's nanStrategy "remove"
    if arr.size > MAX_SAMPLES:
        arr = rng.choice(arr, MAX_SAMPLES, replace=False)
    return arr


def compare_latency(canary: Sequence[float], baseline: Sequence[float], *, alpha: float = 0.02,
                    min_samples: int = 50, max_increase: float = 0.2, min_shift: float = 0.005) -> Comparison:
    """FAIL when the canary is significantly slower (p < alpha) AND its shift exceeds both
    `max_increase` x the baseline median and `min_shift` seconds."""
    rng = np.random.default_rng(0)  # subsampling is deterministic: same inputs, same verdict
    c, b = _clean(canary, rng), _clean(baseline, rng)
    if c.size < min_samples or b.size < min_samples:
        return Comparison(Verdict.INCONCLUSIVE, _median(c), _median(b), None, None,
                          f"too few latency samples (canary {c.size}, baseline {b.size}; need {min_samples} each)")
    c_med, b_med = float(np.median(c)), float(np.median(b))
    if np.ptp(np.concatenate([c, b])) == 0:  # all identical: no difference to test
        p, shift = 1.0, 0.0
    else:
        p = float(sps.mannwhitneyu(c, b, alternative="greater").pvalue)
        shift = float(np.median(np.subtract.outer(c, b)))
    allowed = max(max_increase * b_med, min_shift)
    text = (f"median {c_med * 1000:.1f}ms vs baseline {b_med * 1000:.1f}ms, shift {shift * 1000:+.1f}ms "
            f"(allowed {allowed * 1000:.1f}ms), p={p:.3g}")
    verdict = Verdict.FAIL if p < alpha and shift > allowed else Verdict.PASS
    return Comparison(verdict, c_med, b_med, p, shift, ("slower: " if verdict is Verdict.FAIL else "") + text)


def compare_error_rates(canary_errors: float, canary_total: float, baseline_errors: float, baseline_total: float,
                        *, alpha: float = 0.02, tolerance: float = 0.01, min_samples: int = 100) -> Comparison:
    """FAIL when the canary's error rate exceeds the baseline's by more than `tolerance` and
    Fisher's exact test says that is not chance (p < alpha)."""
    ce, ct, be, bt = (round(x) for x in (canary_errors, canary_total, baseline_errors, baseline_total))
    c_rate, b_rate = (ce / ct if ct else None), (be / bt if bt else None)
    if ct < min_samples or bt < min_samples:
        return Comparison(Verdict.INCONCLUSIVE, c_rate, b_rate, None, None,
                          f"too few requests (canary {ct}, baseline {bt}; need {min_samples} each)")
    assert c_rate is not None and b_rate is not None
    p = float(sps.fisher_exact([[ce, ct - ce], [be, bt - be]], alternative="greater").pvalue)
    diff = c_rate - b_rate
    text = f"error rate {c_rate:.2%} ({ce}/{ct}) vs baseline {b_rate:.2%} ({be}/{bt}), p={p:.3g}"
    if p < alpha and diff > tolerance:
        return Comparison(Verdict.FAIL, c_rate, b_rate, p, diff, f"worse than baseline by {diff:.2%} "
                          f"(tolerance {tolerance:.2%}): {text}")
    return Comparison(Verdict.PASS, c_rate, b_rate, p, diff, text)


def error_rate_within(errors: float, total: float, *, max_rate: float, min_samples: int = 1) -> Comparison:
    """An absolute error-rate limit, for when there is no baseline to compare with."""
    e, t = round(errors), round(total)
    rate = e / t if t else None
    if t < min_samples or rate is None:
        return Comparison(Verdict.INCONCLUSIVE, rate, None, None, None,
                          f"too few requests ({t}; need {min_samples})")
    text = f"error rate {rate:.2%} ({e}/{t}), limit {max_rate:.2%}"
    return Comparison(Verdict.FAIL if rate > max_rate else Verdict.PASS, rate, None, None, None, text)


def _median(arr: np.ndarray[Any, np.dtype[np.float64]]) -> float | None:
    return float(np.median(arr)) if arr.size else None


def quantile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank quantile, the same definition the load generator uses."""
    clean = sorted(v for v in values if not math.isnan(v))
    if not clean:
        return None
    return clean[min(len(clean) - 1, max(0, math.ceil(q * len(clean)) - 1))]
