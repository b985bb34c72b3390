"""Relevance benchmark: is a mention about the product? Precision/recall on WePS-3 and classify throughput.

Accuracy: the shipped relevance model (``models/artifacts/relevance.json``) on the 52 WePS-3 entities, each
scored by a model trained on the other entities only (5-fold entity-held-out cross-validation), with the
settings alone (aliases and a one-line description, ``models/data/relevance/weps3_entities.tsv``) and with
20, 50 and 200 of the entity's own labels (per entity, 200 random mentions to learn from, the rest tested,
the same test set for every count). Printed: accuracy, precision and recall on the TRUE class at the model's
0.5, and precision at recall >= 0.85, each against the issue's targets (met / NOT MET). The tweets are not
redistributable: with ``--data DIR`` (the folder holding WePS-3 ``training.tsv``) they are measured afresh
(about 5 minutes); without it, the figures recorded in the artifact when ``listener train --relevance``
made it are printed.

Throughput: posts/s of the full classify step with the default model on one thread, over bench/classify.py's
mixed posts, with relevance off (the products as bench/ingest.py sets them) and on (the same products with
a one-line description each; nearly every synthetic post names one, so this is the worst case), and the
ratio on/off; the budget is the default model's floor (``models.training.SPEED_TARGETS``).

Run: ``python bench/relevance.py [--quick] [--json PATH] [--data DIR] [--posts N]``
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from bench.classify import BATCH, make_rows, settings_for  # noqa: E402
from listener.classifier import Classifier  # noqa: E402
from listener.files import write_atomic  # noqa: E402
from listener.learn import RELEVANCE_TARGETS  # noqa: E402
from models import relevance, training  # noqa: E402

DESCRIPTIONS = {"Firefox": "Mozilla's web browser", "Chrome": "Google's web browser",
                "Safari": "Apple's web browser for Mac and iPhone", "Edge": "Microsoft's web browser",
                "Brave": "privacy-first web browser"}


def measured(data: Path | None) -> tuple[dict, str]:
    """The figures with 0/20/50/200 own labels and the cross-validated ones, and how they were had."""
    if data is None:
        m = relevance.load().meta.get("metrics") or {}
        if not m:
            sys.exit("the shipped relevance model records no figures: give --data DIR")
        return m, "recorded in models/artifacts/relevance.json by `listener train --relevance` (give --data to re-measure)"
    from listener.learn import _embedder

    items = relevance.load_weps3(data)
    prepared = relevance.prepare(items, relevance.read_products(), _embedder())
    config = relevance.TrainConfig.from_dict(relevance.load().meta.get("config", {}))
    oof, groups = relevance.cross_validate(prepared, config)
    return ({"cross_validated": relevance.figures(oof, prepared.labels, 0.0),
             "own_labels": {str(n): f for n, f in relevance.adaptation_curve(prepared, oof, groups).items()}},
            f"measured now on {data}")


def throughput(n: int, seed: int) -> dict:
    rows = make_rows(n, seed)
    off = settings_for("default")
    on = replace(off, products=tuple(replace(p, description=DESCRIPTIONS.get(p.name, "")) for p in off.products))
    out = {}
    for name, s in (("relevance off", off), ("relevance on", on)):
        c = Classifier.from_settings(s)
        c.classify(rows[:50])   # warm up: the models load
        with threadpool_limits(limits=1):
            t0 = time.perf_counter()
            for i in range(0, len(rows), BATCH):
                c.classify(rows[i:i + BATCH])
            secs = time.perf_counter() - t0
        out[name] = {"seconds": round(secs, 3), "posts_per_s": round(n / secs, 1)}
    out["ratio_on_off"] = round(out["relevance on"]["posts_per_s"] / out["relevance off"]["posts_per_s"], 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="throughput on 100 posts; the recorded figures")
    ap.add_argument("--json", type=Path, metavar="PATH")
    ap.add_argument("--data", type=Path, metavar="DIR", help="WePS-3 folder: measure afresh")
    ap.add_argument("--posts", type=int)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    figures, how = measured(None if args.quick else args.data)
    print(f"WePS-3, 52 entities, entity-held-out; {how}")
    print(f"{'own labels':>10}{'accuracy':>10}{'precision':>11}{'recall':>8}{'prec@rec>=.85':>15}{'vs 0':>8}")
    curve = dict(sorted(figures["own_labels"].items(), key=lambda kv: int(kv[0])))
    zero = curve["0"]["precision_at_recall_85"]
    for n, f in curve.items():
        print(f"{n:>10}{f['accuracy']:>10.4f}{f['precision']:>11.4f}{f['recall']:>8.4f}"
              f"{f['precision_at_recall_85']:>15.4f}{f['precision_at_recall_85'] / zero:>7.2f}x")
    cv = figures["cross_validated"]
    gain = curve["50"]["precision_at_recall_85"] - zero
    checks = [("accuracy, settings alone", cv["accuracy"], RELEVANCE_TARGETS["relevance_accuracy"]),
              ("precision at recall >= 0.85, settings alone", cv["precision_at_recall_85"],
               RELEVANCE_TARGETS["relevance_precision_at_recall_85"]),
              ("precision gain with 50 own labels", gain, RELEVANCE_TARGETS["relevance_precision_gain_50_labels"])]
    print(f"all {cv['n']:,} mentions, settings alone: accuracy {cv['accuracy']:.4f}, precision {cv['precision']:.4f}, "
          f"recall {cv['recall']:.4f}, precision at recall >= 0.85 {cv['precision_at_recall_85']:.4f}")
    for name, value, target in checks:
        print(f"target: {name} >= {target:g}: {'met' if value >= target else 'NOT MET'} ({value:.4f})")
    n = args.posts or (100 if args.quick else 4_000)
    speed = throughput(n, args.seed)
    floor = training.SPEED_TARGETS["default"]
    print(f"classify, default model, {n:,} posts, one thread:")
    for name in ("relevance off", "relevance on"):
        rate = speed[name]["posts_per_s"]
        print(f"  {name:<15}{rate:>10,.0f} posts/s  {'met' if rate >= floor else 'NOT MET'} (budget {floor:,.0f})")
    print(f"  on / off: {speed['ratio_on_off']:.2f}x")
    if args.json:
        write_atomic(args.json, json.dumps({"figures": figures, "how": how, "targets": {
            name: {"value": v, "target": t, "met": v >= t} for name, v, t in checks}, "throughput": speed,
            "posts": n, "python": platform.python_version()}, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
