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
    history = week * 8
    assert count_verdict(history, 41, phase=0).kind == "normal"
    assert count_verdict(history, 11, phase=5).kind == "normal"
    assert count_verdict(history, 40, phase=5).kind == "spike"   # a weekend day at weekday volume
    assert count_verdict(history, 2, phase=1).kind == "drop"


def test_short_history_is_unknown():
    assert count_verdict([5] * 5, 100).kind == "unknown"


def test_negative_share():
    hist_neg, hist_all = [3] * 28, [30] * 28
    assert share_verdict(hist_neg, hist_all, 4, 30).kind == "normal"
    assert share_verdict(hist_neg, hist_all, 20, 30).kind == "spike"
    assert share_verdict(hist_neg, hist_all, 20, 30, preset=PRESETS["low"]).kind == "spike"
