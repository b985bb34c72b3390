"""Spike detector: known spikes in synthetic series are found; flat series raise no alarm."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from reports.spikes import PRESETS, count_verdict, share_verdict

_spec = importlib.util.spec_from_file_location("bench_spikes", Path(__file__).resolve().parent.parent / "bench" / "spikes.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_precision_recall_on_synthetic_spikes_at_default_preset():
    r = bench.evaluate(range(30), "medium")
    assert r["precision"] >= 0.95
    assert r["recall"] >= 0.7
    # flat series: no false alarm over 90 simulated days, for every one of the 30 series
    assert r["false_alarms_per_90_days_flat"] == 0


def test_presets_order_sensitivity():
    low, high = bench.evaluate(range(10), "low"), bench.evaluate(range(10), "high")
    assert high["recall"] >= low["recall"]


def test_weekly_seasonality_is_not_a_spike():
    # weekdays ~40, weekends ~10: a Monday at 40 after a weekend at 10 is normal
    week = [40, 42, 38, 41, 39, 10, 11]

    def judge(count, weekday):
        # the 56 days before a given weekday, oldest first
        history = [week[(weekday - 56 + i) % 7] for i in range(56)]
        return count_verdict(history, count, phase=weekday).kind

    assert judge(41, 0) == "normal"
    assert judge(11, 5) == "normal"
    assert judge(40, 5) == "spike"   # a Saturday at weekday volume
    assert judge(2, 1) == "drop"


def test_short_history_is_unknown():
    assert count_verdict([5] * 5, 100).kind == "unknown"


def test_negative_share():
    hist_neg, hist_all = [3] * 28, [30] * 28
    assert share_verdict(hist_neg, hist_all, 4, 30).kind == "normal"
    assert share_verdict(hist_neg, hist_all, 20, 30).kind == "spike"
    assert share_verdict(hist_neg, hist_all, 20, 30, preset=PRESETS["low"]).kind == "spike"
