"""Spike detector quality on synthetic series with known spikes, per sensitivity preset.

Series are daily mention counts with a weekly pattern (weekends quieter) and
gamma-Poisson noise (overdispersed, like real mention counts). Each spiky series
gets 4 spikes of 3x-5x the expected count (base 10-80 a day) at known days in the judged window.
Every day of the 90-day window is judged with the 56 days before it as history.
Reported: precision and recall on spike days, false alarms per 90 days on flat
series (no spikes), and, as the same-run baseline, a naive detector (count above
mean + 3 standard deviations of the last 28 days, no seasonality).

Run: python bench/spikes.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from listener.files import write_atomic  # noqa: E402
from reports.spikes import PRESETS, count_verdict  # noqa: E402

HISTORY, WINDOW = 56, 90


def series(seed: int, spikes: int = 4) -> tuple[list[int], set[int]]:
    """Counts for HISTORY + WINDOW days and the set of spiked day indexes."""
    rng = np.random.default_rng(seed)
    base = float(rng.uniform(10, 80))
    weekly = np.array([1.0, 1.05, 1.1, 1.05, 0.95, 0.55, 0.45])
    days = HISTORY + WINDOW
    lam = np.array([base * weekly[d % 7] for d in range(days)])
    spiked: set[int] = set()
    while len(spiked) < spikes:
        d = int(rng.integers(HISTORY, days))
        if all(abs(d - s) > 2 for s in spiked):
            spiked.add(d)
    for d in spiked:
        lam[d] *= float(rng.uniform(3.0, 5.0))
    shape = 25.0  # gamma-Poisson: variance = lam + lam^2 / shape
    counts = rng.poisson(rng.gamma(shape, lam / shape))
    return [int(c) for c in counts], spiked


def naive(history: list[int], current: int) -> bool:
    recent = history[-28:]
    return current > statistics.mean(recent) + 3 * statistics.pstdev(recent)


def evaluate(seeds: range, preset_name: str) -> dict:
    preset = PRESETS[preset_name]
    tp = fp = fn = 0
    naive_tp = naive_fp = naive_fn = 0
    flat_alarms = naive_flat = 0
    for seed in seeds:
        counts, spiked = series(seed)
        flat, _ = series(seed + 100_000, spikes=0)
        for d in range(HISTORY, HISTORY + WINDOW):
            v = count_verdict(counts[d - HISTORY:d], counts[d], phase=d % 7, preset=preset)
            hit = v.kind == "spike"
            tp += hit and d in spiked
            fp += hit and d not in spiked
            fn += (not hit) and d in spiked
            n_hit = naive(counts[d - HISTORY:d], counts[d])
            naive_tp += n_hit and d in spiked
            naive_fp += n_hit and d not in spiked
            naive_fn += (not n_hit) and d in spiked
            flat_alarms += count_verdict(flat[d - HISTORY:d], flat[d], phase=d % 7, preset=preset).alarming
            naive_flat += naive(flat[d - HISTORY:d], flat[d])
    n = len(seeds)

    def pr(t: int, f: int, m: int) -> tuple[float, float]:
        return (t / (t + f) if t + f else 1.0), (t / (t + m) if t + m else 1.0)

    p, r = pr(tp, fp, fn)
    np_, nr = pr(naive_tp, naive_fp, naive_fn)
    return {"preset": preset_name, "series": n, "precision": p, "recall": r,
            "false_alarms_per_90_days_flat": flat_alarms / n, "flat_series_with_any_alarm": None,
            "naive_precision": np_, "naive_recall": nr, "naive_false_alarms_per_90_days_flat": naive_flat / n}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="20 series per preset instead of 200")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    seeds = range(20 if args.quick else 200)
    t0 = time.perf_counter()
    rows = [evaluate(seeds, name) for name in ("low", "medium", "high")]
    print(f"{'preset':8} {'series':>6} {'precision':>9} {'recall':>7} {'false alarms/90d':>17}   "
          f"{'naive P':>7} {'naive R':>7} {'naive FA/90d':>12}")
    for r in rows:
        print(f"{r['preset']:8} {r['series']:>6} {r['precision']:>9.3f} {r['recall']:>7.3f} "
              f"{r['false_alarms_per_90_days_flat']:>17.3f}   {r['naive_precision']:>7.3f} "
              f"{r['naive_recall']:>7.3f} {r['naive_false_alarms_per_90_days_flat']:>12.3f}")
    med = rows[1]
    ratio = (med["precision"] * med["recall"]) / max(med["naive_precision"] * med["naive_recall"], 1e-9)
    print(f"medium preset vs naive (precision x recall): {ratio:.2f}x; {time.perf_counter() - t0:.1f}s")
    if args.json:
        for r in rows:
            r.pop("flat_series_with_any_alarm")
        write_atomic(args.json, json.dumps({"rows": rows, "medium_vs_naive_pr_ratio": ratio,
                                            "quick": args.quick}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
