"""Spike and drop detection on counts, seasonality-aware.

The statistic (also in README, "Spikes and alerts"):

1. Seasonal factors. Buckets are days (season 7: day of week) or hours (season
   24: hour of day). For each phase, the factor is the mean count at that phase
   over the history divided by the mean of all buckets, shrunk towards 1 with one
   virtual bucket at the overall mean.
2. Level: the median of the last ``level_window`` deseasonalized counts, so an
   earlier spike in the history does not raise the baseline.
3. Expected count ``e = level x factor[phase of the current bucket]``.
4. Noise model: negative binomial with mean ``e`` and variance ``e + phi e^2``;
   ``phi`` is the history's own overdispersion (method of moments on its
   residuals, the 3 largest dropped) plus a small allowance (``MODEL_SLACK``) for
   the error in estimating ``e`` itself.
5. A spike is a bucket whose upper tail probability ``P(X >= c)`` is at most the
   preset's ``p``, with ``c >= min_count`` and ``c >= ratio x e``; a drop is the
   mirror image (``P(X <= c) <= p``, ``e >= min_count``, ``c <= e / ratio``).

For shares (negative mentions / all mentions) the test is a two-proportion
z-test of the current bucket against the pooled history, at the z matching ``p``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist, median
from typing import Sequence


@dataclass(frozen=True)
class Preset:
    p: float          # tail probability at or below which a bucket is a spike / drop
    min_count: int    # ignore buckets this quiet
    ratio: float      # a spike must also be this many times the expected count


PRESETS = {
    "low": Preset(p=1e-7, min_count=10, ratio=2.0),
    "medium": Preset(p=1e-6, min_count=5, ratio=1.5),
    "high": Preset(p=1e-4, min_count=3, ratio=1.3),
}
MIN_HISTORY = 14    # buckets needed before anything is judged
MODEL_SLACK = 0.02  # extra overdispersion for the uncertainty of the expected count
MAX_PHI = 4.0       # sparse histories give wild moment estimates; beyond this nothing is alarming anyway


@dataclass(frozen=True)
class Verdict:
    kind: str           # "spike" | "drop" | "normal" | "unknown" (too little history)
    value: float        # the current count or share
    expected: float     # the count or share the baseline expected
    p: float            # tail probability of a value this extreme under the baseline

    @property
    def alarming(self) -> bool:
        return self.kind in ("spike", "drop")


def _factors(history: Sequence[float], season: int, start_phase: int) -> list[float]:
    overall = sum(history) / len(history) if history else 0.0
    sums = [0.0] * season
    counts = [0] * season
    for i, c in enumerate(history):
        p = (start_phase + i) % season
        sums[p] += c
        counts[p] += 1
    prior = max(overall, 1e-9)
    return [((sums[p] + prior) / (counts[p] + 1)) / prior for p in range(season)]


def _log_nb_pmf(k: int, mean: float, phi: float) -> float:
    r = 1.0 / max(phi, 1e-6)
    return (math.lgamma(k + r) - math.lgamma(r) - math.lgamma(k + 1)
            + r * math.log(r / (r + mean)) + k * math.log(mean / (r + mean)))


def _nb_tail(c: int, mean: float, phi: float, upper: bool) -> float:
    """P(X >= c) (upper) or P(X <= c) for a negative binomial with the given mean and phi.

    Sums the pmf from a point 40 standard deviations below the mean (mass below it
    is negligible) up to c, so the cost is bounded by the count itself.
    """
    sd = math.sqrt(mean + phi * mean * mean)
    lo = max(0, int(mean - 40 * sd))
    hi = c - 1 if upper else c
    if hi < lo:
        below = 0.0
    else:
        logs = [_log_nb_pmf(k, mean, phi) for k in range(lo, hi + 1)]
        top = max(logs)
        below = min(1.0, math.exp(top) * math.fsum(math.exp(v - top) for v in logs))
    return max(0.0, 1.0 - below) if upper else below


def count_verdict(history: Sequence[float], current: float, *, season: int = 7, phase: int | None = None,
                  preset: Preset = PRESETS["medium"], level_window: int = 28) -> Verdict:
    """Judge ``current`` against ``history`` (oldest first, the bucket just before ``current`` last).

    ``phase`` is the seasonal phase of ``current`` (e.g. weekday 0-6); by default the
    phases are counted from the start of the history (``len(history) % season``).
    """
    n = len(history)
    if n < MIN_HISTORY:
        return Verdict("unknown", current, float("nan"), 1.0)
    if phase is None:
        phase = n % season
    start_phase = (phase - n) % season
    factors = _factors(history, season, start_phase)
    window = range(max(0, n - level_window), n)
    level = median(history[i] / factors[(start_phase + i) % season] for i in window)
    fitted = [level * factors[(start_phase + i) % season] for i in range(n)]
    moments = sorted(((history[i] - e) ** 2 - e, e * e) for i, e in enumerate(fitted))[:-3]
    phi = min(MAX_PHI, max(0.0, sum(a for a, _ in moments) / max(sum(b for _, b in moments), 1e-9))) + MODEL_SLACK
    expected = max(level * factors[phase], 0.5)
    c = int(round(current))
    if c >= expected:
        p = _nb_tail(c, expected, phi, upper=True)
        if p <= preset.p and c >= preset.min_count and c >= preset.ratio * expected:
            return Verdict("spike", current, expected, p)
    else:
        p = _nb_tail(c, expected, phi, upper=False)
        if p <= preset.p and expected >= preset.min_count and c <= expected / preset.ratio:
            return Verdict("drop", current, expected, p)
    return Verdict("normal", current, expected, p)


def share_verdict(history_hits: Sequence[int], history_totals: Sequence[int], hits: int, total: int, *,
                  preset: Preset = PRESETS["medium"]) -> Verdict:
    """Judge the share ``hits / total`` (e.g. negative mentions) against the pooled history."""
    h, t = sum(history_hits), sum(history_totals)
    if len(history_totals) < MIN_HISTORY or t == 0 or total == 0:
        return Verdict("unknown", (hits / total) if total else 0.0, float("nan"), 1.0)
    p0 = (h + 1) / (t + 2)  # Laplace-smoothed baseline share
    share = hits / total
    pooled = (h + hits + 1) / (t + total + 2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / total + 1 / t))
    z = (share - p0) / se if se else 0.0
    p = NormalDist().cdf(-abs(z))
    if z > 0 and p <= preset.p and hits >= preset.min_count and share >= min(1.0, preset.ratio * p0):
        return Verdict("spike", share, p0, p)
    if z < 0 and p <= preset.p and total >= preset.min_count:
        return Verdict("drop", share, p0, p)
    return Verdict("normal", share, p0, p)
