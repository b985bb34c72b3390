"""Spike detector quality on synthetic series with known bursts, per preset, against the detector
before issue 14 ("current") in the same run.

Series are daily mention counts with a weekly pattern (weekends quieter) and gamma-Poisson noise
(overdispersed, like real mention counts), base 10-80 a day. Families:

- steady:  56 days of full history, then a 90-day judged window (the original bench);
- install: collection starts on day 0 (nothing known before it; day 0 only partly covered,
           10-100% of a normal day, as a first fetch of a feed gives), 90 days judged from day 0;
- ramp:    as install, with a slow ramp (the level grows 1% a day, x2.4 over 90 days);
- gaps:    as install, with 3 collection gaps of 1-4 days (nothing collected: unknown, not zero).

Each spiky series gets 4 one-day bursts of 3x-5x the expected count at known days (install
families: from day 8, the first day with 7 full days of history), never in a gap. Every day is
judged with up to 56 days of history the way the digest and alerts build it: unknown days (before
day 0, gaps) and the partly covered day 0 are ``None`` for the new detector; the current detector
sees them as zero-mention days (what the digest did) and judges a day once any history count is
non-zero. Reported per family and preset: precision and recall on burst days, false alarms (any
spike or drop) per 90 days on the same series without bursts, and for the install families false
alarms in the first 14 days (per series, averaged over the series with and without bursts). Ratios: new recall / current recall, current false alarms / new.

Run: python bench/spikes.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from listener.files import write_atomic  # noqa: E402
from reports.spikes import PRESETS, count_verdict  # noqa: E402
from reports.spikes import _nb_tail  # noqa: E402  (the tail sum is unchanged; only the model around it is)

HISTORY, WINDOW = 56, 90
FAMILIES = ("steady", "install", "ramp", "gaps")
WEEKLY = np.array([1.0, 1.05, 1.1, 1.05, 0.95, 0.55, 0.45])


def series(seed: int, family: str = "steady", spikes: int = 4) -> tuple[list[int | None], set[int], int]:
    """Counts (``None``: nothing collected), the burst day indexes, and the first judged index."""
    rng = np.random.default_rng(seed)
    base = float(rng.uniform(10, 80))
    pre = HISTORY if family == "steady" else 0
    days = pre + WINDOW
    offset = int(rng.integers(0, 7))
    growth = 1.01 if family == "ramp" else 1.0
    lam = np.array([base * WEEKLY[(d + offset) % 7] * growth ** d for d in range(days)])
    gaps: set[int] = set()
    if family == "gaps":
        while len(gaps) < 9:
            g0, g_len = int(rng.integers(10, days - 5)), int(rng.integers(1, 5))
            gaps |= set(range(g0, g0 + g_len))
    first_burst = pre if family == "steady" else 8
    spiked: set[int] = set()
    while len(spiked) < spikes:
        d = int(rng.integers(first_burst, days))
        if d not in gaps and all(abs(d - s) > 2 for s in spiked):
            spiked.add(d)
    for d in spiked:
        lam[d] *= float(rng.uniform(3.0, 5.0))
    if family != "steady":
        lam[0] *= float(rng.uniform(0.1, 1.0))  # the first collected day is partly covered
    shape = 25.0  # gamma-Poisson: variance = lam + lam^2 / shape
    counts: list[int | None] = [int(c) for c in rng.poisson(rng.gamma(shape, lam / shape))]
    for g in gaps:
        counts[g] = None
    return counts, spiked, pre, offset


def current_detector(history: list[int], current: int, phase: int, preset_name: str) -> str:
    """The detector as it was before issue 14: zeros for unknown days, 14 buckets, 3 residuals dropped,
    no burst rule, no allowance for the level's sampling error."""
    p_, min_count, ratio = {"low": (1e-7, 10, 2.0), "medium": (1e-6, 5, 1.5), "high": (1e-4, 3, 1.3)}[preset_name]
    n, season = len(history), 7
    if n < 14:
        return "unknown"
    start_phase = (phase - n) % season
    overall = sum(history) / n
    sums, cnts = [0.0] * season, [0] * season
    for i, c in enumerate(history):
        sums[(start_phase + i) % season] += c
        cnts[(start_phase + i) % season] += 1
    prior = max(overall, 1e-9)
    factors = [((sums[p] + prior) / (cnts[p] + 1)) / prior for p in range(season)]
    level = median(history[i] / factors[(start_phase + i) % season] for i in range(max(0, n - 28), n))
    fitted = [level * factors[(start_phase + i) % season] for i in range(n)]
    moments = sorted(((history[i] - e) ** 2 - e, e * e) for i, e in enumerate(fitted))[:-3]
    phi = min(4.0, max(0.0, sum(a for a, _ in moments) / max(sum(b for _, b in moments), 1e-9))) + 0.02
    expected = max(level * factors[phase], 0.5)
    if current >= expected:
        p = _nb_tail(current, expected, phi, upper=True)
        return "spike" if p <= p_ and current >= min_count and current >= ratio * expected else "normal"
    p = _nb_tail(current, expected, phi, upper=False)
    return "drop" if p <= p_ and expected >= min_count and current <= expected / ratio else "normal"


def _judge_all(counts: list[int | None], first: int, offset: int, preset_name: str, new: bool) -> dict[int, str]:
    """The verdict of every judged day (gap days are not judged: there is no count)."""
    out = {}
    partial = 0 if first == 0 else None  # install families: day 0 is the partly covered first day
    for d in range(first, len(counts)):
        if counts[d] is None:
            continue
        lo = max(0, d - HISTORY)
        hist = counts[lo:d]
        phase = (d + offset) % 7
        if new:
            hist = [None if (lo + i) == partial else c for i, c in enumerate(hist)]
            hist = [None] * (HISTORY - len(hist)) + hist
            out[d] = count_verdict(hist, counts[d], phase=phase, preset=PRESETS[preset_name]).kind
        else:
            hist0 = [0] * (HISTORY - len(hist)) + [c or 0 for c in hist]
            out[d] = current_detector(hist0, counts[d], phase, preset_name) if sum(hist0) > 0 else "unknown"
    return out


def evaluate(seeds: range, preset_name: str, family: str = "steady", new: bool = True) -> dict:
    """Precision, recall and false alarms of one detector (new or current) on one family of series."""
    tp = fp = fn = 0
    flat_alarms = early_alarms = early_days = 0
    for seed in seeds:
        counts, spiked, first, offset = series(seed, family)
        verdicts = _judge_all(counts, first, offset, preset_name, new)
        for d in spiked:
            fn += verdicts.get(d) != "spike"
        for d, kind in verdicts.items():
            tp += kind == "spike" and d in spiked
            fp += kind == "spike" and d not in spiked
        flat, _, first, offset = series(seed + 100_000, family, spikes=0)
        flat_verdicts = _judge_all(flat, first, offset, preset_name, new)
        flat_alarms += sum(v in ("spike", "drop") for v in flat_verdicts.values())
        if family != "steady":
            early_alarms += sum(v in ("spike", "drop") for d, v in flat_verdicts.items() if d < 14)
            early_alarms += sum(v in ("spike", "drop") for d, v in verdicts.items() if d < 14 and d not in spiked)
            early_days += 1
    n = len(seeds)
    return {"family": family, "preset": preset_name, "detector": "new" if new else "current", "series": n,
            "precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0,
            "false_alarms_per_90_days_flat": flat_alarms / n,
            "false_alarms_first_14_days": (early_alarms / early_days / 2) if early_days else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 series per family and preset instead of 100")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    seeds = range(20 if args.quick else 100)
    t0 = time.perf_counter()
    rows = []
    print(f"{'family':8} {'preset':7} {'precision':>9} {'recall':>7} {'FA/90d':>7} {'FA 1st 14d':>10}   "
          f"{'cur P':>6} {'cur R':>6} {'cur FA/90d':>10} {'cur 1st 14d':>11}   {'R new/cur':>9} {'FA cur/new':>10}")

    def fa(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    for family in FAMILIES:
        for name in ("low", "medium", "high"):
            new, cur = evaluate(seeds, name, family, True), evaluate(seeds, name, family, False)
            r_ratio = new["recall"] / cur["recall"] if cur["recall"] else math.inf
            fa_ratio = (cur["false_alarms_per_90_days_flat"] / new["false_alarms_per_90_days_flat"]
                        if new["false_alarms_per_90_days_flat"] else math.inf)
            row = {**new, "current": cur, "recall_ratio_new_vs_current": r_ratio,
                   "false_alarm_ratio_current_vs_new": fa_ratio}
            rows.append(row)
            print(f"{family:8} {name:7} {new['precision']:>9.3f} {new['recall']:>7.3f} "
                  f"{new['false_alarms_per_90_days_flat']:>7.3f} {fa(new['false_alarms_first_14_days']):>10}   "
                  f"{cur['precision']:>6.3f} {cur['recall']:>6.3f} {cur['false_alarms_per_90_days_flat']:>10.3f} "
                  f"{fa(cur['false_alarms_first_14_days']):>11}   {r_ratio:>8.2f}x {fa_ratio:>9.1f}x")
    print(f"{len(seeds)} series per family and preset (and as many without bursts); "
          f"{time.perf_counter() - t0:.1f}s")
    if args.json:
        clean = json.loads(json.dumps(rows).replace("Infinity", "null"))
        write_atomic(args.json, json.dumps({"rows": clean, "quick": args.quick}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
