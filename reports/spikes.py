"""Spike and drop detection on counts, seasonality-aware, honest about days with no data.

A history is a list of buckets, oldest first; ``None`` is a bucket whose count is unknown (before
collection started, the partly covered first day, a collection gap), never a zero. The statistic
(also in README, "Spikes and alerts"), on the known buckets only:

1. Seasonal factors. Buckets are days (season 7: day of week) or hours (season
   24: hour of day). For each phase, the factor is the mean count at that phase
   over the history divided by the mean of all buckets, shrunk towards 1 with one
   virtual bucket at the overall mean (so a short history is barely seasonal).
2. Level: the median of the last ``level_window`` deseasonalized counts, so an
   earlier spike in the history does not raise the baseline.
3. Expected count ``e = level x factor[phase of the current bucket]``.
4. Noise model: negative binomial with mean ``e`` and variance ``e + phi e^2``;
   ``phi`` is the history's own overdispersion (method of moments on its
   residuals, the largest 5% dropped) plus the relative variance of the level
   estimate itself (a median of ``n`` buckets: ``pi/2 x (1/e + phi) / n``, large
   for a short history) plus a small allowance (``MODEL_SLACK``).
5. A spike is a bucket whose upper tail probability ``P(X >= c)`` is at most the
   preset's ``p``, with ``c >= min_count`` and ``c >= ratio x e``; or a burst:
   ``c >= BURST_RATIO x e`` (3x) with ``P(X >= c)`` at most the preset's
   ``burst_p``. A drop is the mirror image of the first rule
   (``P(X <= c) <= p``, ``e >= min_count``, ``c <= e / ratio``).
6. Nothing is judged before ``MIN_HISTORY`` known buckets.

For shares (negative mentions / all mentions) the test is a two-proportion
z-test of the current bucket against the pooled known history, at the z matching ``p``.

``judge`` runs both on one bucket; the digest and the alert rules call it, so they agree.
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
    burst_p: float    # a burst (>= BURST_RATIO x expected) needs only this tail probability


PRESETS = {
    "low": Preset(p=1e-7, min_count=10, ratio=2.0, burst_p=1e-4),
    "medium": Preset(p=1e-6, min_count=5, ratio=1.5, burst_p=1e-3),
    "high": Preset(p=1e-4, min_count=3, ratio=1.3, burst_p=1e-2),
}
MIN_HISTORY = 7     # known buckets needed before anything is judged
BURST_RATIO = 2.5   # a count this many times the expected one (a 3x burst, less the noise) is a burst
SHORT_RATIO = 3.0   # with under two seasons of history (no weekday pattern yet), a spike is 3x, a drop a third
MODEL_SLACK = 0.02  # extra overdispersion for model error beyond the level's sampling error
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


def _factors(known: list[tuple[int, float]], season: int, start_phase: int) -> list[float]:
    by_phase: list[list[float]] = [[] for _ in range(season)]
    for i, c in known:
        by_phase[(start_phase + i) % season].append(c)
    # medians, so a spike in the history does not make its weekday look busy
    medians = [median(v) if v else None for v in by_phase]
    seen = [m for m in medians if m is not None]
    overall = sum(seen) / len(seen) if seen else 0.0
    if overall <= 0:
        return [1.0] * season
    # shrunk towards 1 with one virtual bucket: one observation of a phase says little
    return [1.0 if m is None else (len(v) * m / overall + 1) / (len(v) + 1) for m, v in zip(medians, by_phase)]


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


def count_verdict(history: Sequence[float | None], current: float, *, season: int = 7, phase: int | None = None,
                  preset: Preset = PRESETS["medium"], level_window: int = 28) -> Verdict:
    """Judge ``current`` against ``history`` (oldest first, the bucket just before ``current`` last;
    ``None`` for a bucket whose count is unknown).

    ``phase`` is the seasonal phase of ``current`` (e.g. weekday 0-6); by default the
    phases are counted from the start of the history (``len(history) % season``).
    """
    n = len(history)
    known = [(i, float(c)) for i, c in enumerate(history) if c is not None]
    if len(known) < MIN_HISTORY:
        return Verdict("unknown", current, float("nan"), 1.0)
    if phase is None:
        phase = n % season
    start_phase = (phase - n) % season
    factors = _factors(known, season, start_phase)
    recent = [(i, c) for i, c in known if i >= n - level_window]
    if len(recent) < MIN_HISTORY:  # a gap in the recent window: reach back for enough known buckets
        recent = known[-MIN_HISTORY:]
    level = median(c / factors[(start_phase + i) % season] for i, c in recent)
    residuals = []
    for i, c in known:
        e = level * factors[(start_phase + i) % season]
        residuals.append(((c - e) ** 2 - e, e * e))
    residuals.sort()
    residuals = residuals[:len(residuals) - max(1, round(len(residuals) * 0.05))]
    phi = min(MAX_PHI, max(0.0, sum(a for a, _ in residuals) / max(sum(b for _, b in residuals), 1e-9)))
    expected = max(level * factors[phase], 0.5)
    phi += math.pi / 2 * (1 / expected + phi) / len(recent) + MODEL_SLACK
    floor = SHORT_RATIO if len(known) < 2 * season else 1.0
    c = int(round(current))
    if c >= expected:
        p = _nb_tail(c, expected, phi, upper=True)
        if c >= preset.min_count and c >= floor * expected and (
                (p <= preset.p and c >= preset.ratio * expected)
                or (p <= preset.burst_p and c >= BURST_RATIO * expected)):
            return Verdict("spike", current, expected, p)
    else:
        p = _nb_tail(c, expected, phi, upper=False)
        if p <= preset.p and expected >= preset.min_count and c <= expected / max(preset.ratio, floor):
            return Verdict("drop", current, expected, p)
    return Verdict("normal", current, expected, p)


def share_verdict(history_hits: Sequence[int | None], history_totals: Sequence[int | None], hits: int, total: int,
                  *, preset: Preset = PRESETS["medium"]) -> Verdict:
    """Judge the share ``hits / total`` (e.g. negative mentions) against the pooled known history
    (``None`` totals are unknown buckets)."""
    pairs = [(h or 0, t) for h, t in zip(history_hits, history_totals) if t is not None]
    h, t = sum(a for a, _ in pairs), sum(b for _, b in pairs)
    if len(pairs) < MIN_HISTORY or t == 0 or total == 0:
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


def judge(totals: Sequence[int | None], negatives: Sequence[int | None], total: int, negative: int, *,
          season: int, phase: int, preset: Preset) -> tuple[Verdict, Verdict]:
    """The volume verdict and the negative-share verdict of one bucket against its history
    (``None``: unknown buckets). The one detector of both the digest and the alert rules."""
    return (count_verdict(totals, total, season=season, phase=phase, preset=preset),
            share_verdict(negatives, totals, negative, total, preset=preset))
